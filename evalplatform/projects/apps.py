from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "evalplatform.projects"
    label = "projects"
    verbose_name = "Projects"
