from django.contrib import admin

from evalplatform.enrolment.models import EntryLink, ExternalWorker, Invitation


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "kind", "email", "seats_used", "seats", "expires_at", "revoked_at"]
    list_filter = ["kind"]
    readonly_fields = ["token_hash"]


@admin.register(EntryLink)
class EntryLinkAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "label", "platform", "quota", "per_worker_tokens", "revoked_at"]


@admin.register(ExternalWorker)
class ExternalWorkerAdmin(admin.ModelAdmin):
    list_display = ["worker_id", "project", "link", "quota", "completed_at", "created_at"]
    search_fields = ["worker_id"]
    raw_id_fields = ["user"]
