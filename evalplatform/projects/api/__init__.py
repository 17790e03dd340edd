"""Projects over the API: setting them up, who works on them, and their items.

Raters see the projects they belong to; leads change their projects, their members and items;
admins everything.  Writes go through ``projects.services``, reads through ``projects.selectors``.
"""

from django.urls import path

from evalplatform.projects.api.items import ItemImport, ItemList
from evalplatform.projects.api.members import Me, MemberDetail, MemberListCreate
from evalplatform.projects.api.projects import ProjectDetail, ProjectListCreate

urlpatterns = [
    path("users/me/", Me.as_view(), name="api-me"),
    path("projects/", ProjectListCreate.as_view(), name="api-projects"),
    path("projects/<int:pk>/", ProjectDetail.as_view(), name="api-project"),
    path("projects/<int:project_id>/members/", MemberListCreate.as_view(), name="api-members"),
    path("projects/<int:project_id>/members/<str:username>/", MemberDetail.as_view(), name="api-member"),
    path("projects/<int:project_id>/items/", ItemList.as_view(), name="api-items"),
    path("projects/<int:project_id>/items/import/", ItemImport.as_view(), name="api-items-import"),
]
