from django.apps import AppConfig


class SuitesConfig(AppConfig):
    name = "evalplatform.suites"
    label = "suites"
    verbose_name = "Suites and rounds"

    def ready(self) -> None:
        from evalplatform.reports.compute import Section, builder, register_section
        from evalplatform.reports.services import on_report_done
        from evalplatform.suites import webhooks
        from evalplatform.suites.lineage import earlier_round_projects
        from evalplatform.training.lineage import register_earlier_projects

        # By name: the builders (and the statistics engine) load with the first report, not at start-up.
        register_section(Section("composite", builder("evalplatform.suites.sections.composite_section"),
                                 "suites/report/_composite.html", title="Weighted composite"), after="dimensions")
        register_section(Section("round", builder("evalplatform.suites.sections.round_section"),
                                 "suites/report/_round.html", title="Drift since the previous round"),
                         after="composite")
        on_report_done(webhooks.report_done)
        # Training counts a pass in an earlier round of the same suite (training may not import suites).
        register_earlier_projects(earlier_round_projects)
