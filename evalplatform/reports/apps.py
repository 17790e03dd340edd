from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "evalplatform.reports"
    label = "reports"
    verbose_name = "Reports"
