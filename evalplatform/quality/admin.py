"""Read-only admin views: gold items and adjudications are written through the quality pages and API,
whose services keep the queue's capacity and the rubric's scales right."""

from django.contrib import admin

from evalplatform.quality.models import AdjudicatedScore, Adjudication, GoldExpectation


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(GoldExpectation)
class GoldExpectationAdmin(ReadOnly):
    list_display = ["task", "dimension", "value", "tolerance", "project"]
    list_filter = ["project"]


class AdjudicatedScoreInline(admin.TabularInline):
    model = AdjudicatedScore
    extra = 0

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Adjudication)
class AdjudicationAdmin(ReadOnly):
    list_display = ["task", "project", "decided_by", "decided_at"]
    list_select_related = ["task", "project", "decided_by"]
    list_filter = ["project"]
    inlines = [AdjudicatedScoreInline]
