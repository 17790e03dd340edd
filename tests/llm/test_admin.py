"""The admin's endpoint form: the key is write-only, kept when left empty, replaced or cleared on request."""

from __future__ import annotations

import pytest
from django.test import Client

from evalplatform.llm.models import ModelEndpoint
from evalplatform.llm.secrets import api_key_for
from tests.fixtures import UserFactory

pytestmark = pytest.mark.django_db
KEY = "sk-admin-form-0123456789"


def form(**changes) -> dict:
    data = {"name": "gpt", "base_url": "https://api.example.com/v1", "model": "gpt-x", "temperature": "0",
            "max_tokens": "256", "seed": "", "extra_parameters": "{}", "supports_json_schema": "on",
            "requests_per_minute": "60", "max_concurrency": "2", "timeout_seconds": "30", "max_retries": "3",
            "api_key_env": "", "price_input_per_million": "0.15", "price_output_per_million": "0.6", "api_key": ""}
    data.update(changes)
    return data


def test_the_key_is_stored_encrypted_never_shown_kept_replaced_and_cleared():
    admin = Client()
    admin.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    answer = admin.post("/admin/llm/modelendpoint/add/", form(api_key=KEY))
    assert answer.status_code == 302, answer.content.decode()[:2000]
    endpoint = ModelEndpoint.objects.get()
    assert KEY.encode() not in bytes(endpoint.api_key_encrypted)
    assert api_key_for(endpoint) == KEY
    page = admin.get(f"/admin/llm/modelendpoint/{endpoint.pk}/change/").content.decode()
    assert KEY not in page
    assert 'name="api_key"' in page
    assert "stored (encrypted)" in admin.get("/admin/llm/modelendpoint/").content.decode()
    admin.post(f"/admin/llm/modelendpoint/{endpoint.pk}/change/", form(model="gpt-y"))  # key left empty: kept
    endpoint.refresh_from_db()
    assert endpoint.model == "gpt-y"
    assert api_key_for(endpoint) == KEY
    admin.post(f"/admin/llm/modelendpoint/{endpoint.pk}/change/", form(api_key="sk-new-key-999"))
    endpoint.refresh_from_db()
    assert api_key_for(endpoint) == "sk-new-key-999"
    admin.post(f"/admin/llm/modelendpoint/{endpoint.pk}/change/", form(clear_api_key="on"))
    endpoint.refresh_from_db()
    assert endpoint.api_key_encrypted is None
    assert not endpoint.has_secret
