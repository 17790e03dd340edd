"""The report page's parameters form: every parameter the API's report request takes."""

from __future__ import annotations

from typing import Any

from django import forms

from evalplatform.reports.services import DEFAULT_PARAMETERS


class ReportParametersForm(forms.Form):
    """Bounds as in ``services.clean_parameters`` (which checks them again for every caller)."""

    include_paused = forms.BooleanField(required=False, label="Paused raters' ratings")
    include_gold = forms.BooleanField(required=False, label="Gold items' ratings")
    include_automated = forms.BooleanField(required=False, label="Automated judges' ratings")
    icc = forms.BooleanField(required=False, label="ICC for ordinal dimensions too")
    bootstrap = forms.IntegerField(min_value=0, max_value=20000, label="Bootstrap resamples",
                                   help_text="0 gives no intervals; 1000 is the default.")
    seed = forms.IntegerField(min_value=0, max_value=2**32 - 1, label="Seed",
                              help_text="The same seed and data give the same intervals.")

    @classmethod
    def shown(cls, parameters: dict[str, Any] | None) -> ReportParametersForm:
        """The form filled with ``parameters`` (the shown report's), defaults for the rest."""
        return cls(initial={**DEFAULT_PARAMETERS, **(parameters or {})})


class TrackingSettingsForm(forms.Form):
    """The project's experiment-tracking settings; ``tracking.update_tracking_settings`` checks their meaning
    (URI scheme, no credentials, W&B's name rules).  Empty: the server's environment decides."""

    mlflow_tracking_uri = forms.CharField(
        max_length=500, required=False, label="MLflow tracking URI",
        help_text="https://mlflow.example.org, databricks, or a file: store inside the server's data directory. "
                  "Credentials never go here: the server reads them from its environment.",
    )
    mlflow_experiment = forms.CharField(max_length=250, required=False, label="MLflow experiment")
    wandb_project = forms.CharField(max_length=128, required=False, label="W&B project")
    wandb_entity = forms.CharField(max_length=128, required=False, label="W&B entity (user or team)")

    @classmethod
    def for_project(cls, project, data=None) -> TrackingSettingsForm:
        from evalplatform.reports.models import TrackingSettings

        stored = TrackingSettings.objects.filter(project=project).first()
        return cls(data, initial={name: getattr(stored, name, "") for name in cls.base_fields})
