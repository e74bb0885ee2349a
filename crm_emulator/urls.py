app_name = "crm_emulator"
urlpatterns = []
