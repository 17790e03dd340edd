"""Forms of the lead's pages: they check the shape of the input; the services check its meaning."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.text import slugify

from evalplatform.projects.models import Membership, Project
from evalplatform.projects.services import LEASE_MAX_SECONDS
from evalplatform.projects.uploads import size_text
from rubrics.models import RubricVersion


class RubricVersionChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: RubricVersion) -> str:
        return f"{obj.rubric.name} — version {obj.number}"


def check_upload_size(upload):
    limit = settings.EVAL_MAX_UPLOAD_BYTES
    if upload is not None and upload.size > limit:
        raise forms.ValidationError(
            f"The file is {size_text(upload.size)}, over the upload limit of {size_text(limit)}; nothing was imported."
        )
    return upload


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        max_length=100, required=False,
        help_text="Lowercase letters, digits and hyphens; used in the project's web addresses. Left empty, it "
                  "is made from the name.",
    )
    rubric_version = RubricVersionChoice(
        queryset=RubricVersion.objects.filter(status=RubricVersion.Status.PUBLISHED)
        .select_related("rubric").order_by("rubric__name", "-number"),
        help_text="Only published versions can back a project.",
    )
    kind = forms.ChoiceField(choices=Project.Kind.choices, initial=Project.Kind.SINGLE)
    overlap = forms.IntegerField(
        min_value=1, max_value=100, initial=3,
        help_text="How many raters see each task: add at least this many raters, or no task is ever complete.",
    )
    lease_minutes = forms.IntegerField(
        min_value=1, max_value=LEASE_MAX_SECONDS // 60, initial=30,
        help_text="How long a rater holds an item before it returns to the queue.",
    )
    order = forms.ChoiceField(choices=Project.Order.choices, initial=Project.Order.PRIORITY)
    show_reference = forms.BooleanField(required=False, initial=True, label="Show reference answers to raters")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    items = forms.FileField(
        required=False, label="Items file",
        help_text="JSONL, CSV or a JSON list (see the README). Refused whole, with every bad line listed, if "
                  "anything is wrong. You can also add items later.",
    )

    def clean_items(self):
        return check_upload_size(self.cleaned_data.get("items"))

    def clean(self):
        data = super().clean()
        if not data.get("slug") and data.get("name"):
            slug = slugify(data["name"])[:100].strip("-")
            if not slug:
                self.add_error("slug", "The name has no letters or digits to make a web address from: give one.")
            data["slug"] = slug
        elif not data.get("slug") and "slug" not in self.errors and "name" not in self.errors:
            self.add_error("slug", "Give a name or a slug.")
        return data


class ItemsForm(forms.Form):
    items = forms.FileField(label="Items file")
    update = forms.BooleanField(
        required=False, label="Update items that already exist (prompt, reference, metadata, priority; new responses)"
    )

    def clean_items(self):
        return check_upload_size(self.cleaned_data.get("items"))


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.RATER)

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise forms.ValidationError(f"There is no user named {username!r}.")
        self.user = user
        return username
