"""Who may do what in a project through the API: small permission classes, composed per view.

    permission_classes = [IsAuthenticated, IsStaff | IsProjectLead]

A view under ``/api/projects/<project_id>/`` mixes in ``ProjectScoped``: its project is looked up
through ``projects.selectors.project_for``, so a project the user may not see is a 404 before any role
is asked about, and a role check only ever answers 403 to someone who already knows the project
exists (a rater asking for their own project's report).  Views about one object (a report, a rating)
get that object from a queryset scoped to the user, and the same classes check the object's project.
The classes that know no project (``IsStaff``, ``IsOwner``, ``ReadOnly``) are in ``evalplatform.permissions``.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from rest_framework.permissions import BasePermission, IsAuthenticated, OperandHolder
from rest_framework.views import APIView

from evalplatform.permissions import IsStaff
from evalplatform.projects.models import Membership, Project
from evalplatform.projects.selectors import project_for, role_in


class ProjectScoped(APIView):
    """Base for views whose URL names a project: ``get_project()`` resolves it once, or 404."""

    project_url_kwarg = "project_id"

    def get_project(self) -> Project:
        if getattr(self, "_project", None) is None:
            self._project = project_for(self.request.user, pk=self.kwargs[self.project_url_kwarg])
        return self._project


def _project_of(obj: Any) -> Project:
    return obj if isinstance(obj, Project) else obj.project


def project_role(request, view, project: Project) -> str | None:
    """``role_in`` cached for the duration of one request (several classes may ask)."""
    cache = view.__dict__.setdefault("_project_roles", {})
    if project.pk not in cache:
        cache[project.pk] = role_in(project, request.user)
    return cache[project.pk]


class _ProjectRole(BasePermission):
    """Grants when the user holds one of ``roles`` in the view's project, or in the object's.

    On a view without a project in its URL the decision is left to the object check, so these
    classes belong only on project-scoped views or views about single objects.
    """

    roles: tuple[str, ...] = ()

    def has_permission(self, request, view) -> bool:
        get_project = getattr(view, "get_project", None)
        if get_project is None:
            return True
        return project_role(request, view, get_project()) in self.roles

    def has_object_permission(self, request, view, obj: Model) -> bool:
        return project_role(request, view, _project_of(obj)) in self.roles


class IsProjectLead(_ProjectRole):
    message = "Only the project's leads (and admins) may do this."
    roles = (Membership.Role.LEAD,)


class IsProjectRater(_ProjectRole):
    message = "Only the project's raters may do this."
    roles = (Membership.Role.RATER,)


class IsProjectMember(_ProjectRole):
    roles = (Membership.Role.LEAD, Membership.Role.RATER)


class IsLeadAnywhere(BasePermission):
    """Users who lead at least one project (they may start new ones)."""

    message = "Only admins and project leads may create projects."

    def has_permission(self, request, view) -> bool:
        return Membership.objects.filter(user_id=request.user.pk, role=Membership.Role.LEAD).exists()


#: The project's leads and admins: the usual ``permission_classes`` of a project-scoped view.
LEADS: list[type[BasePermission] | OperandHolder] = [IsAuthenticated, IsStaff | IsProjectLead]
