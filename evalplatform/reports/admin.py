from django.contrib import admin

from evalplatform.reports.models import AgreementReport


@admin.register(AgreementReport)
class AgreementReportAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "status", "progress", "n_ratings", "data_seq", "created_at", "finished_at")
    list_filter = ("status", "project")
    exclude = ("result",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
