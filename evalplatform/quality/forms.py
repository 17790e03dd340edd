"""Forms of the quality pages: they check the shape of the input; ``quality.services`` its meaning."""

from __future__ import annotations

from django import forms

from evalplatform.assignments.selectors import DimensionView, rubric_form
from evalplatform.input_rules import within_column
from evalplatform.projects.models import Project
from evalplatform.quality.models import GoldExpectation
from rubrics.scales import asked_per_response


class QualitySettingsForm(forms.Form):
    gold_rate = forms.FloatField(
        min_value=0, max_value=0.5, label="Gold rate",
        help_text="Share of served items that are gold, 0 to 0.5 (0.1: about one item in ten).",
    )
    gold_min_accuracy = forms.FloatField(
        min_value=0, max_value=1, label="Minimum gold accuracy",
        help_text="Raters below this share of correct gold scores are flagged on the dashboard.",
    )
    min_seconds_per_item = forms.IntegerField(
        **within_column(Project, "min_seconds_per_item", min_value=0), label="Minimum seconds per item",
        help_text="Raters whose median time per item is below this are flagged as too fast (0: off).",
    )
    adjudication_threshold = forms.FloatField(
        min_value=0, max_value=1, label="Adjudication threshold",
        help_text="Tasks whose agreement (1 = all agree, 0 = as far apart as the scale allows) falls below this "
                  "go to the adjudication queue.",
    )
    consensus_rule = forms.ChoiceField(
        choices=Project.ConsensusRule.choices, label="Consensus rule",
        help_text="What exports call the consensus of a task that was not adjudicated.",
    )

    @classmethod
    def for_project(cls, project: Project, data=None) -> QualitySettingsForm:
        return cls(data, initial={name: getattr(project, name) for name in cls.base_fields})


def _level_choices(dim: DimensionView, blank: str) -> list[tuple[str, str]]:
    return [("", blank), *((str(lv.value), f"{lv.value} · {lv.label}") for lv in dim.levels)]


class ScoresForm(forms.Form):
    """One choice per scored dimension of the project's rubric, fields named ``score-<key>``."""

    blank = "—"

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        pair = project.kind == Project.Kind.PAIRWISE  # questions asked of each response are not included
        self.dimensions = [
            d for d in rubric_form(project.rubric_version_id) if not d.is_text and not asked_per_response(d.kind, pair=pair)
        ]
        for dim in self.dimensions:
            self.fields[dim.field_name] = forms.ChoiceField(
                choices=_level_choices(dim, self.blank), required=False, label=dim.label
            )

    def scores(self) -> dict[str, str]:
        return {d.key: self.cleaned_data.get(d.field_name) or "" for d in self.dimensions}

    def dimension_fields(self):
        return [(dim, self[dim.field_name]) for dim in self.dimensions]


class GoldForm(ScoresForm):
    """A gold task: the item (and model), and the expected score, with a tolerance, per dimension."""

    blank = "no expectation"
    item_id = forms.CharField(max_length=200, label="Item id")
    model = forms.CharField(
        max_length=401, required=False, label="Model",
        help_text="When the item has several responses: the model (or the pair, model-a-vs-model-b).",
    )

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, project=project, **kwargs)
        for dim in self.dimensions:
            self.fields[f"tolerance-{dim.key}"] = forms.IntegerField(
                initial=0, required=False, label=f"{dim.label} tolerance",
                **within_column(GoldExpectation, "tolerance", min_value=0),
            )

    def expectations(self) -> dict[str, dict[str, int | str]]:
        out: dict[str, dict[str, int | str]] = {}
        for dim in self.dimensions:
            value = self.cleaned_data.get(dim.field_name)
            if value:
                out[dim.key] = {"value": value, "tolerance": self.cleaned_data.get(f"tolerance-{dim.key}") or 0}
        return out

    def dimension_fields(self):
        return [(dim, self[dim.field_name], self[f"tolerance-{dim.key}"]) for dim in self.dimensions]


class AdjudicationForm(ScoresForm):
    blank = "choose"
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Note")
