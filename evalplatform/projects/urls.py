from django.urls import path

from evalplatform.projects import views

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/new/", views.project_new, name="project-new"),
    path("projects/<slug:slug>/dashboard/", views.project_dashboard, name="project-dashboard"),
    path("projects/<slug:slug>/members/", views.project_add_member, name="project-add-member"),
    path("projects/<slug:slug>/members/<int:user_id>/pause/", views.project_pause_member, name="project-pause-member"),
    path("projects/<slug:slug>/items/", views.project_import_items, name="project-import-items"),
]
