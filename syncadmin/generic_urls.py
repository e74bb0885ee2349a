"""URL patterns of the generic views for one PageSite."""

from django.urls import path

from syncadmin import views


def page_urls(site):
    kwargs = {"site": site}
    return [
        path("<slug:model>/", views.ObjectListView.as_view(**kwargs), name="list"),
        path("<slug:model>/add/", views.ObjectCreateView.as_view(**kwargs), name="add"),
        path("<slug:model>/<int:pk>/", views.ObjectDetailView.as_view(**kwargs), name="detail"),
        path("<slug:model>/<int:pk>/edit/", views.ObjectEditView.as_view(**kwargs), name="edit"),
        path(
            "<slug:model>/<int:pk>/delete/", views.ObjectDeleteView.as_view(**kwargs), name="delete"
        ),
    ]
