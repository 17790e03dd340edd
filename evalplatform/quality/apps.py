from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "evalplatform.quality"
    label = "quality"
    verbose_name = "Quality control"

    def ready(self) -> None:
        from evalplatform.quality.sections import icc_section, quality_section
        from evalplatform.reports.compute import Section, register_section

        register_section(Section("icc", icc_section, "quality/report/_icc.html", "Intraclass correlation"), after="dimensions")
        register_section(Section("quality", quality_section, "quality/report/_quality.html", "Rater quality"), after="raters")
