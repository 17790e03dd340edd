from django.apps import AppConfig


class EnrolmentConfig(AppConfig):
    name = "evalplatform.enrolment"
    label = "enrolment"
    verbose_name = "Enrolment"

    def ready(self) -> None:
        from evalplatform.assignments.gates import register_claim_gate, register_empty_queue_gate
        from evalplatform.enrolment.workforce import exhausted_refusal, quota_refusal

        # An external worker who met the quota, or for whom the project has nothing left, is sent to the
        # completion page by the queue itself: the page, its script and the API alike.
        register_claim_gate(quota_refusal)
        register_empty_queue_gate(exhausted_refusal)
