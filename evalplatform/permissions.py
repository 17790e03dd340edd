"""Who may do what through the API: the permission classes that know no app (staff, owner, read-only).

The project roles (``ProjectScoped``, ``IsProjectLead``, ``LEADS`` ...) live in
``evalplatform.projects.permissions``: they read memberships, so only the apps above projects use them,
and the rubrics and accounts APIs, below projects, can still use these.
"""

from __future__ import annotations

from django.db.models import Model
from rest_framework.permissions import SAFE_METHODS, BasePermission


class IsStaff(BasePermission):
    """Admins: Django staff users."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_staff)


class IsOwner(BasePermission):
    """The object is the user's own (an assignment or rating whose ``rater`` they are)."""

    message = "Only the rater who holds this task may do this."

    def has_object_permission(self, request, view, obj: Model) -> bool:
        return getattr(obj, "rater_id", None) == request.user.pk


class ReadOnly(BasePermission):
    """Safe methods only; composed as ``ReadOnly & IsProjectMember``."""

    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS
