from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "evalplatform.training"
    label = "training"
    verbose_name = "Rater onboarding"

    def ready(self) -> None:
        from evalplatform.assignments.gates import register_claim_gate
        from evalplatform.training.selectors import refusal

        # The queue asks this before every claim and submit of real work (page, JSON and API alike).
        register_claim_gate(refusal)
