"""The lead's pairing form: its shape only; ``services.generate_pairings`` judges its meaning."""

from __future__ import annotations

from django import forms

from evalplatform.comparisons.services import STRATEGIES


class PairingsForm(forms.Form):
    strategy = forms.ChoiceField(choices=[(s, s) for s in STRATEGIES], initial="sample")
    per_item = forms.IntegerField(min_value=1, max_value=10000, required=False, label="Pairs per item")
    seed = forms.IntegerField(min_value=0, max_value=2**32 - 1, required=False, initial=0)

    def clean(self):
        data = super().clean()
        if data.get("strategy") == "all":
            data["per_item"] = None  # the field stays on the page for the other choice
        return data
