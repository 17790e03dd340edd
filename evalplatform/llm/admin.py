"""Admin: registering model endpoints (the key is write-only) and looking at runs."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from evalplatform.llm.models import Call, ModelEndpoint, Run
from evalplatform.llm.secrets import encrypt


class ModelEndpointForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False, strip=True, widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current key. "
        "Prefer the environment variable field: the key then never enters the database.",
    )
    clear_api_key = forms.BooleanField(required=False, help_text="Remove the stored key.")

    class Meta:
        model = ModelEndpoint
        fields = ["name", "base_url", "model", "temperature", "max_tokens", "seed", "extra_parameters",
                  "supports_json_schema", "requests_per_minute", "max_concurrency", "timeout_seconds", "max_retries",
                  "api_key_env", "price_input_per_million", "price_output_per_million"]

    def save(self, commit: bool = True) -> ModelEndpoint:
        endpoint = super().save(commit=False)
        if self.cleaned_data.get("clear_api_key"):
            endpoint.api_key_encrypted = None
        elif self.cleaned_data.get("api_key"):
            endpoint.api_key_encrypted = encrypt(self.cleaned_data["api_key"])
        if commit:
            endpoint.save()
        return endpoint


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    form = ModelEndpointForm
    list_display = ["name", "model", "base_url", "requests_per_minute", "max_concurrency", "key_source"]
    search_fields = ["name", "model"]

    @admin.display(description="API key")
    def key_source(self, obj: ModelEndpoint) -> str:
        if obj.api_key_env:
            return f"from ${obj.api_key_env}"
        return "stored (encrypted)" if obj.api_key_encrypted else "none"


class CallInline(admin.TabularInline):
    model = Call
    fields = ("endpoint", "item", "task", "status", "attempts", "cached", "cost", "error")
    readonly_fields = ("endpoint", "item", "task", "status", "attempts", "cached", "cost", "error")
    extra = 0
    can_delete = False
    show_change_link = False
    max_num = 0


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "kind", "status", "prompt_version", "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    readonly_fields = ["project", "kind", "status", "endpoints", "prompt_template", "prompt_version", "created_by",
                       "created_at", "finished_at"]
    inlines = [CallInline]
