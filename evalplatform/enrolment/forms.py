"""Forms of the enrolment pages: shape only; the services validate meaning."""

from __future__ import annotations

from django import forms

from evalplatform.enrolment.models import EntryLink
from evalplatform.enrolment.services import DEFAULT_DAYS, MAX_DAYS, MAX_SEATS
from evalplatform.enrolment.workforce import MAX_QUOTA


class EmailInviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address")
    expires_in_days = forms.IntegerField(label="Valid for (days)", min_value=1, max_value=MAX_DAYS, initial=DEFAULT_DAYS)


class LinkInviteForm(forms.Form):
    seats = forms.IntegerField(label="Places", min_value=1, max_value=MAX_SEATS, initial=10)
    expires_in_days = forms.IntegerField(label="Valid for (days)", min_value=1, max_value=MAX_DAYS, initial=DEFAULT_DAYS)


class AcceptForm(forms.Form):
    username = forms.CharField(max_length=150, strip=True, widget=forms.TextInput(attrs={"autocomplete": "username"}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False)
    password_again = forms.CharField(label="Password (again)", strip=False,
                                     widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("password") and data.get("password_again") and data["password"] != data["password_again"]:
            self.add_error("password_again", "The two passwords differ.")
        return data


class EntryLinkForm(forms.Form):
    label = forms.CharField(max_length=200, required=False, help_text="For you: which study this link is for.")
    platform = forms.ChoiceField(choices=EntryLink.Platform.choices)
    quota = forms.IntegerField(min_value=1, max_value=MAX_QUOTA, initial=20, help_text="Items each worker rates.")
    worker_param = forms.CharField(max_length=50, required=False, help_text="Empty: the platform's (PROLIFIC_PID, workerId).")
    study_param = forms.CharField(max_length=50, required=False, help_text="Empty: the platform's.")
    session_param = forms.CharField(max_length=50, required=False, help_text="Empty: the platform's.")
    completion_code = forms.CharField(max_length=64, required=False, help_text="Empty: a random code.")
    screened_out_code = forms.CharField(max_length=64, required=False,
                                        help_text="For workers who fail the qualification. Empty: the completion code.")
    completion_url = forms.CharField(max_length=500, required=False,
                                     help_text="Empty: the platform's. {code} stands for the completion code.")
    per_worker_tokens = forms.BooleanField(required=False, label="Only workers on a list I generate")

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "label": data["label"], "platform": data["platform"], "quota": data["quota"],
            "worker_param": data["worker_param"] or None, "study_param": data["study_param"] or None,
            "session_param": data["session_param"] or None, "completion_code": data["completion_code"] or None,
            "completion_url": data["completion_url"] or None, "per_worker_tokens": data["per_worker_tokens"],
            "screened_out_code": data["screened_out_code"],
        }


class WorkerListForm(forms.Form):
    worker_ids = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), label="Worker ids, one a line")
