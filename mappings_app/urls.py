app_name = "mappings"
urlpatterns = []
