from django.contrib import admin

from evalplatform.projects.models import Item, Membership, Project, Response


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "role", "paused")
    autocomplete_fields = ("user",)
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "kind", "overlap", "rubric_version", "created_at")
    search_fields = ("slug", "name")
    readonly_fields = ("rubric_version", "kind", "ratings_seq", "refresh_due_at", "created_at", "created_by")
    inlines = [MembershipInline]

    def get_readonly_fields(self, request, obj=None):
        # The rubric version and kind are chosen at creation (create_project) and fixed after.
        return self.readonly_fields if obj is not None else ("ratings_seq", "refresh_due_at", "created_at")


class ResponseInline(admin.StackedInline):
    model = Response
    fields = ("model", "position", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("external_id", "project", "priority", "created_at")
    list_filter = ("project",)
    search_fields = ("external_id", "prompt")
    readonly_fields = ("project", "external_id")
    inlines = [ResponseInline]
