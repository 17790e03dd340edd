"""Pages of this app (paths are absolute: the project URLconf includes this module at the root)."""

from django.urls import path

from evalplatform.comparisons import views

urlpatterns = [
    path("projects/<slug:slug>/pairings/", views.project_pairings, name="project-pairings"),
]
