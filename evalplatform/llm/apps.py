from django.apps import AppConfig


class LlmConfig(AppConfig):
    name = "evalplatform.llm"
    label = "llm"
    verbose_name = "Model endpoints and runs"

    def ready(self) -> None:
        from evalplatform.reports.compute import Section, builder, register_section

        register_section(
            Section("judge_runs", builder("evalplatform.llm.sections.judge_runs_section"), "llm/report/_judge_runs.html", "Judge runs"), after="judges"
        )
