from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "evalplatform.demo"
    label = "demo"
    verbose_name = "Demo data"
