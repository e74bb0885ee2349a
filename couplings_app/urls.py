app_name = "couplings"
urlpatterns = []
