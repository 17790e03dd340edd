from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "evalplatform.reports"
    label = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from evalplatform.ratings.changes import on_ratings_changed
        from evalplatform.ratings.exports import use_export_manifest, use_report_parameters
        from evalplatform.reports.services import parameters_in_force, ratings_changed

        # New or changed ratings schedule the debounced report refresh, after their commit.
        on_ratings_changed(ratings_changed)
        # Exports hold, by default, what the newest report counted.
        use_report_parameters(parameters_in_force)
        # Every export carries a manifest whose ratings hash is the report manifest's own.
        use_export_manifest(_export_manifest)
        # EVAL_TRACKING=mlflow: every stored report is logged to the tracker by a task, after its commit.
        from evalplatform.reports.services import on_report_done
        from evalplatform.reports.tracking import on_report_stored

        on_report_done(on_report_stored)


def _export_manifest(*args, **kwargs):
    """``reports.manifest.export_manifest``, imported with the first manifest: it loads the statistics
    engine and numpy, which most commands (and ``--help``) never need."""
    from evalplatform.reports.manifest import export_manifest

    return export_manifest(*args, **kwargs)
