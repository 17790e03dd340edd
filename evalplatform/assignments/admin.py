from django.contrib import admin

from evalplatform.assignments.models import Assignment


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    """Read-only: the queue's record is written only by the queue's services."""

    list_display = ("id", "project", "task", "rater", "status", "leased_at", "lease_expires_at", "finished_at")
    list_filter = ("status", "source", "project")
    search_fields = ("rater__username",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
