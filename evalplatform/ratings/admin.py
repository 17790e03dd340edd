from django.contrib import admin

from evalplatform.ratings.models import Rating, Score


class ScoreInline(admin.TabularInline):
    model = Score
    fields = ("dimension", "value", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    """Read-only: ratings are written by submissions and imports, never edited."""

    list_display = ("id", "project", "task", "rater", "duration_ms", "created_at")
    list_filter = ("project",)
    search_fields = ("rater__username",)
    inlines = [ScoreInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
