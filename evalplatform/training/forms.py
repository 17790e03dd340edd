"""Forms of the training pages: they check the input's shape; ``training.services`` its meaning."""

from __future__ import annotations

from django import forms

from evalplatform.projects.forms import check_upload_size
from evalplatform.training.models import TrainingPolicy
from evalplatform.training.services import POLICY_FIELDS


class TrainingSettingsForm(forms.ModelForm):
    pass_mark = forms.FloatField(
        min_value=0, max_value=1, label="Pass mark",
        help_text="Share of answers (0 to 1) within the tolerance of the expected answer needed to pass (0.8: 80%).",
    )
    tolerance = forms.IntegerField(
        min_value=0, max_value=100, label="Tolerance (scale points)",
        help_text="How far an answer may be off on ordered scales (likert, preference); yes/no and "
                  "categorical answers must match exactly.",
    )
    max_attempts = forms.IntegerField(
        min_value=1, max_value=100, label="Attempts",
        help_text="How many times a rater may go through the training before they are stopped.",
    )

    class Meta:
        model = TrainingPolicy
        fields = list(POLICY_FIELDS)
        labels = {
            "training_required": "Raters train before real items",
            "per_dimension": "Pass mark applies to each dimension",
            "requalify_on_new_version": "Qualify again on a new rubric version",
            "require_guidelines_ack": "Raters confirm the guidelines (again when they change)",
        }


class TrainingImportForm(forms.Form):
    items = forms.FileField(label="Training items file")
    update = forms.BooleanField(required=False, label="Replace training items that already exist")

    def clean_items(self):
        return check_upload_size(self.cleaned_data.get("items"))


class ExpectationsForm(forms.Form):
    """Expected value and explanation per answer key, fields ``expected-<key>`` and ``explanation-<key>``."""

    def __init__(self, *args, questions, initial_expected=None, initial_explanations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = questions  # [(key, label, [(value, label)] or None for free text)]
        initial_expected, initial_explanations = initial_expected or {}, initial_explanations or {}
        for key, label, levels in questions:
            if levels is not None:
                self.fields[f"expected-{key}"] = forms.ChoiceField(
                    choices=[("", "—"), *((str(v), f"{v} · {lab}") for v, lab in levels)], required=False,
                    label=f"{label}: expected", initial=str(initial_expected.get(key, "")),
                )
            self.fields[f"explanation-{key}"] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 2}), required=False, label=f"{label}: explanation",
                initial=initial_explanations.get(key, ""),
            )

    def expected(self) -> dict[str, str]:
        return {key: self.cleaned_data.get(f"expected-{key}", "") for key, _, levels in self.questions
                if levels is not None and self.cleaned_data.get(f"expected-{key}", "")}

    def explanations(self) -> dict[str, str]:
        return {key: self.cleaned_data.get(f"explanation-{key}", "") for key, _, _ in self.questions
                if self.cleaned_data.get(f"explanation-{key}", "").strip()}


class MakeTrainingItemForm(forms.Form):
    item_id = forms.CharField(max_length=200, label="Item id",
                              help_text="An item of this project nobody has been served yet.")
