"""Quality pages of a project (leads and admins only)."""

from django.urls import path

from evalplatform.quality import views

urlpatterns = [
    path("projects/<slug:slug>/quality/", views.overview, name="quality-overview"),
    path("projects/<slug:slug>/quality/settings/", views.update_settings, name="quality-settings"),
    path("projects/<slug:slug>/quality/recompute/", views.recompute, name="quality-recompute"),
    path("projects/<slug:slug>/quality/gold/", views.gold, name="quality-gold"),
    path("projects/<slug:slug>/quality/gold/<int:task_id>/remove/", views.gold_remove, name="quality-gold-remove"),
    path("projects/<slug:slug>/quality/adjudication/", views.adjudication_queue, name="quality-adjudication"),
    path("projects/<slug:slug>/quality/adjudication/<int:task_id>/", views.adjudicate, name="quality-adjudicate"),
]
