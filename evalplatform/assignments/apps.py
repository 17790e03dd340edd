from django.apps import AppConfig


class AssignmentsConfig(AppConfig):
    name = "evalplatform.assignments"
    label = "assignments"
    verbose_name = "Assignments"
