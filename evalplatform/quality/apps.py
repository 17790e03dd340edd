from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "evalplatform.quality"
    label = "quality"
    verbose_name = "Quality control"

    def ready(self) -> None:
        from evalplatform.projects.dashboard import register_dashboard
        from evalplatform.quality.exports import EXPORTS
        from evalplatform.quality.selectors import gold_alerts
        from evalplatform.ratings.exports import register_export
        from evalplatform.reports.compute import Section, builder, register_section

        for export in EXPORTS:
            register_export(export)
        register_dashboard("gold_alerts", lambda project: {"gold_alerts": gold_alerts(project)})

        register_section(Section("icc", builder("evalplatform.quality.sections.icc_section"), "quality/report/_icc.html", "Intraclass correlation"), after="dimensions")
        register_section(Section("quality", builder("evalplatform.quality.sections.quality_section"), "quality/report/_quality.html", "Rater quality"), after="raters")
