from erp_app.pages import site
from syncadmin.generic_urls import page_urls

app_name = "erp"
urlpatterns = page_urls(site)
