"""Rubric authoring in the Django admin.

Drafts are edited freely: a version's dimensions inline, each dimension's scale levels (value,
label, anchor) on the dimension's page.  Publishing freezes a version; a published version opens
read-only with a note saying how to change it (clone into a new draft).
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils.html import format_html

from rubrics import services
from rubrics.models import Dimension, Rubric, RubricVersion, ScaleLevel

FROZEN = (
    "{} is published, so it is read-only: scores already given must keep their meaning. "
    "To change it, use the action “Clone into a new draft” on the versions list."
)


def _version_of(obj) -> RubricVersion | None:
    if isinstance(obj, RubricVersion):
        return obj
    if isinstance(obj, Dimension):
        return obj.version
    return None


class FrozenWhenPublished:
    """Admin mixin: objects of a published version can be viewed, never changed or deleted."""

    def _frozen(self, obj) -> bool:
        version = _version_of(obj)
        return version is not None and version.is_published

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not self._frozen(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not self._frozen(obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and self._frozen(obj) and request.method == "GET":
            self.message_user(request, FROZEN.format(_version_of(obj)), messages.WARNING)
        return super().change_view(request, object_id, form_url, extra_context)


class FrozenInline(admin.TabularInline):
    def _frozen(self, obj) -> bool:
        version = _version_of(obj)
        return version is not None and version.is_published

    def has_add_permission(self, request, obj=None):
        return super().has_add_permission(request, obj) and not self._frozen(obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not self._frozen(obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not self._frozen(obj)


class DimensionInline(FrozenInline):
    model = Dimension
    fields = ("position", "key", "label", "kind", "level", "required")
    extra = 0
    show_change_link = True


class ScaleLevelInline(FrozenInline):
    model = ScaleLevel
    fields = ("value", "label", "anchor")
    extra = 0


class VersionInline(admin.TabularInline):
    model = RubricVersion
    fields = ("number", "status", "published_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Rubric)
class RubricAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "created_at")
    search_fields = ("slug", "name")
    inlines = [VersionInline]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.versions.filter(status=RubricVersion.Status.PUBLISHED).exists():
            return False
        return super().has_delete_permission(request, obj)


@admin.register(RubricVersion)
class RubricVersionAdmin(FrozenWhenPublished, admin.ModelAdmin):
    list_display = ("__str__", "rubric", "number", "status", "published_at", "used_by")
    list_filter = ("status", "rubric")
    fields = ("rubric", "number", "status", "justification", "guidelines", "published_at")
    readonly_fields = ("number", "status", "published_at")
    inlines = [DimensionInline]
    actions = ["publish", "clone"]

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "rubric") if obj is not None else self.readonly_fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_projects=Count("projects"))

    @admin.display(description="used by")
    def used_by(self, obj: RubricVersion) -> str:
        n = obj.n_projects  # type: ignore[attr-defined]  # the annotation of get_queryset
        return format_html("{} project(s)", n) if n else "-"

    def save_model(self, request, obj, form, change):
        if not change:
            from django.db.models import Max

            obj.number = (obj.rubric.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        super().save_model(request, obj, form, change)

    @admin.action(description="Publish selected drafts (freezes them)")
    def publish(self, request, queryset):
        for version in queryset:
            try:
                services.publish_version(version=version)
            except ValidationError as exc:
                self.message_user(request, f"{version}: not published: {'; '.join(exc.messages)}", messages.ERROR)
            else:
                self.message_user(request, f"{version.rubric.slug} v{version.number} is published.", messages.SUCCESS)

    @admin.action(description="Clone into a new draft")
    def clone(self, request, queryset):
        with transaction.atomic():
            for version in queryset:
                draft = services.clone_version(version=version)
                self.message_user(request, f"{draft} created from v{version.number}.", messages.SUCCESS)


@admin.register(Dimension)
class DimensionAdmin(FrozenWhenPublished, admin.ModelAdmin):
    list_display = ("key", "label", "kind", "level", "version")
    list_filter = ("kind", "version__rubric")
    inlines = [ScaleLevelInline]
