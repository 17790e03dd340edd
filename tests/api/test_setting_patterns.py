"""Settings whose rules the API schema states as patterns still refuse with a message that says why."""

from __future__ import annotations

import pytest

from evalplatform.enrolment.api import EntryLinkCreateSerializer
from evalplatform.reports.api import TrackingSettingsSerializer


@pytest.mark.parametrize(("field", "value", "says"), [
    ("wandb_entity", "-team", "starting with a letter or digit"),
    ("wandb_project", "a/b", "cannot hold"),
    ("mlflow_experiment", "line\nbreak", "control character"),
])
def test_tracking_settings_refused_by_pattern_say_why(field, value, says):
    serializer = TrackingSettingsSerializer(data={field: value})
    assert not serializer.is_valid()
    assert says in str(serializer.errors[field][0])


@pytest.mark.parametrize(("field", "value", "says"), [
    ("study_param", "1study", "URL parameter name"),
    ("completion_code", "C 1", "letters, digits, - and _"),
    ("screened_out_code", "x" * 65, "64"),
])
def test_entry_link_fields_refused_by_pattern_say_why(field, value, says):
    serializer = EntryLinkCreateSerializer(data={field: value})
    assert not serializer.is_valid()
    assert says in str(serializer.errors[field][0])


def test_blank_settings_stay_allowed():
    assert TrackingSettingsSerializer(data={"wandb_entity": "", "wandb_project": " ", "mlflow_experiment": ""}).is_valid()
    assert EntryLinkCreateSerializer(data={"study_param": "", "screened_out_code": ""}).is_valid()
