from django.apps import AppConfig


class AssignmentsConfig(AppConfig):
    name = "evalplatform.assignments"
    label = "assignments"
    verbose_name = "Assignments"

    def ready(self) -> None:
        from evalplatform.assignments.selectors import progress_data, project_progress
        from evalplatform.projects.dashboard import register_dashboard, register_progress

        register_dashboard("progress", lambda project: {"progress": project_progress(project)})
        register_progress(progress_data)
