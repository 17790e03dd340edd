"""Rubric authoring in the Django admin.

Drafts are edited freely: a version's dimensions inline, with each dimension's scale levels as text
(``value | label | anchor`` a line) on the same page, or as rows on the dimension's own page.  Only
drafts are offered as a dimension's version (a published one is a form error, never a 500).
Publishing freezes a version; a published version opens read-only with a note saying how to change it
(clone into a new draft).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
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


DRAFTS_ONLY = (
    "That version is published (frozen: scores already given must keep their meaning) or does not exist. "
    "Pick a draft, or clone the published version into a new draft first."
)


def parse_levels(text: str) -> list[tuple[int, str, str]]:
    """``value | label | anchor`` lines (anchor optional) as level rows, or ``ValidationError``
    naming each bad line."""
    rows, errors, seen = [], [], set()
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|", 2)]
        try:
            value = int(parts[0])
        except ValueError:
            errors.append(f"line {number}: {parts[0]!r} is not a whole number (write value | label | anchor)")
            continue
        label = parts[1] if len(parts) > 1 else ""
        if not label:
            errors.append(f"line {number}: level {value} needs a label (value | label | anchor)")
        if value in seen:
            errors.append(f"line {number}: the value {value} is listed twice")
        seen.add(value)
        rows.append((value, label, parts[2] if len(parts) > 2 else ""))
    if errors:
        raise ValidationError(errors)
    return sorted(rows)


def levels_text(dimension: Dimension) -> str:
    return "\n".join(
        " | ".join(part for part in (str(lv.value), lv.label, lv.anchor) if part) for lv in dimension.levels.all()
    )


class DimensionForm(forms.ModelForm):
    """A dimension's form: only drafts can take it (a published version is a form error, not a 500)."""

    class Meta:
        model = Dimension
        fields = "__all__"  # noqa: DJ007  # the admin's fieldsets choose

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "version" in self.fields:
            field = self.fields["version"]
            field.queryset = RubricVersion.objects.filter(status=RubricVersion.Status.DRAFT).select_related("rubric")
            field.error_messages["invalid_choice"] = DRAFTS_ONLY


class DimensionInlineForm(DimensionForm):
    """A dimension on its version's page, with its levels as text: one ``value | label | anchor`` a line."""

    levels_text = forms.CharField(
        label="Levels", required=False, widget=forms.Textarea(attrs={"rows": 4, "cols": 40}),
        help_text="One level a line: value | label | anchor (the anchor is optional).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["levels_text"].initial = levels_text(self.instance)

    def clean_levels_text(self) -> list[tuple[int, str, str]] | None:
        if "levels_text" not in self.changed_data:
            return None  # left as it was: the levels stay
        return parse_levels(self.cleaned_data.get("levels_text", ""))


class DimensionInline(FrozenInline):
    model = Dimension
    form = DimensionInlineForm
    fields = ("position", "key", "label", "kind", "level", "required", "levels_text")
    extra = 0
    show_change_link = True

    @admin.display(description="Levels")
    def levels_text(self, obj: Dimension) -> str:
        """The levels as text, for a published (read-only) version's page."""
        return levels_text(obj) if obj and obj.pk else ""


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
    fields = ("rubric", "number", "status", "justification", "guidelines", "published_at", "preview")
    readonly_fields = ("number", "status", "published_at", "preview")
    inlines = [DimensionInline]
    actions = ["publish", "clone"]

    def get_readonly_fields(self, request, obj=None):
        return (*self.readonly_fields, "rubric") if obj is not None else self.readonly_fields

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        # Levels typed on this page replace the dimension's levels (a draft's: published ones are read-only).
        for dim_form in formset.forms:
            levels = getattr(dim_form, "cleaned_data", {}).get("levels_text")
            if levels is None or dim_form.instance.pk is None or dim_form.cleaned_data.get("DELETE"):
                continue
            ScaleLevel.objects.filter(dimension=dim_form.instance).delete()
            ScaleLevel.objects.bulk_create(
                ScaleLevel(dimension=dim_form.instance, value=value, label=label, anchor=anchor)
                for value, label, anchor in levels
            )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_projects=Count("projects"))

    @admin.display(description="preview")
    def preview(self, obj: RubricVersion) -> str:
        """A link to the rating form as raters will see it (the scoring page's own template)."""
        if obj is None or obj.pk is None:
            return "-"
        return format_html('<a href="{}" target="_blank" rel="noopener">The rating form as raters see it</a>',
                           reverse("rubric-preview", args=[obj.pk]))

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
    form = DimensionForm
    list_display = ("key", "label", "kind", "level", "version")
    list_filter = ("kind", "version__rubric")
    inlines = [ScaleLevelInline]
