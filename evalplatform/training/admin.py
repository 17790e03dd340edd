from django.contrib import admin

from evalplatform.training import services
from evalplatform.training.models import GuidelinesAck, TrainingAttempt, TrainingItem, TrainingPolicy


@admin.register(TrainingPolicy)
class TrainingPolicyAdmin(admin.ModelAdmin):
    list_display = ("project", "training_required", "pass_mark", "tolerance", "max_attempts", "require_guidelines_ack")

    def save_model(self, request, obj, form, change):
        # Through the service, so the project's onboarding flag (which the queue's gate reads) follows.
        saved = services.update_policy(project=obj.project,
                                       **{name: getattr(obj, name) for name in services.POLICY_FIELDS})
        obj.pk = saved.pk


@admin.register(TrainingItem)
class TrainingItemAdmin(admin.ModelAdmin):
    list_display = ("external_id", "project", "position")
    list_filter = ("project",)


@admin.register(TrainingAttempt)
class TrainingAttemptAdmin(admin.ModelAdmin):
    list_display = ("project", "rater", "number", "started_at", "finished_at", "passed")
    list_filter = ("project", "passed")


@admin.register(GuidelinesAck)
class GuidelinesAckAdmin(admin.ModelAdmin):
    list_display = ("rater", "rubric_version", "acknowledged_at")
