from __future__ import annotations

from django import forms

from evalplatform.llm import prompts
from evalplatform.llm.models import ModelEndpoint, Run


class StartRunForm(forms.Form):
    kind = forms.ChoiceField(choices=Run.Kind.choices, initial=Run.Kind.JUDGE)
    endpoints = forms.ModelMultipleChoiceField(queryset=ModelEndpoint.objects.order_by("name"),
                                               widget=forms.CheckboxSelectMultiple, to_field_name="name")
    template = forms.CharField(
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Generation: the message sent for each item, with {prompt}, {reference}, {external_id} and "
        f"{{metadata[key]}} (empty: {prompts.DEFAULT_GENERATION_TEMPLATE}). Judge: leave empty for the rubric's prompt.",
    )
