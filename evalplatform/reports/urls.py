"""Pages of this app (paths are absolute: the project URLconf includes this module at the root)."""

from django.urls import path

from evalplatform.reports import views

urlpatterns = [
    path("projects/<slug:slug>/report/", views.report_page, name="report"),
    path("projects/<slug:slug>/report/status/", views.report_status, name="report-status"),
    path("projects/<slug:slug>/report/recompute/", views.report_recompute, name="report-recompute"),
    path("projects/<slug:slug>/report/tracking/", views.tracking_settings, name="report-tracking"),
    path("projects/<slug:slug>/report/export/<str:fmt>/", views.report_export, name="report-export"),
    # Item external ids are free text (they may hold "/"), so the item page takes the rest of the path;
    # under report/ it cannot shadow other apps' pages under projects/<slug>/items/.
    path("projects/<slug:slug>/report/items/", views.items_page, name="report-items"),
    path("projects/<slug:slug>/report/items/<path:external_id>/", views.item_page, name="report-item"),
]
