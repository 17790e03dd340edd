"""A database connection dropped during a submission: a retryable error, and no second rating."""

import psycopg
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evalplatform.ratings.models import Rating

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
SCORES = {"accuracy": 4, "helpfulness": 3, "harmless": 1}


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def _terminate_own_backend_on(statement_prefix: str):
    """An execute wrapper that kills this connection's server process when a statement starts."""
    fired = []

    def wrapper(execute, sql, params, many, context):
        if not fired and sql.startswith(statement_prefix):
            fired.append(sql)
            pid = context["connection"].connection.info.backend_pid
            settings = context["connection"].settings_dict
            with psycopg.connect(host=settings["HOST"] or "127.0.0.1", port=settings["PORT"] or 5432,
                                 user=settings["USER"] or "postgres", dbname=settings["NAME"], autocommit=True) as side:
                side.execute("SELECT pg_terminate_backend(%s)", [pid])
        return execute(sql, params, many, context)

    return wrapper, fired


def test_dropped_connection_mid_submit_is_retryable_and_never_doubles(project):
    alice = project.memberships.get(user__username="alice").user
    client = _client(alice)
    assignment = client.post(f"/api/projects/{project.pk}/next/").json()["id"]
    url = f"/api/assignments/{assignment}/submit/"

    wrapper, fired = _terminate_own_backend_on('INSERT INTO "ratings_rating"')
    with connection.execute_wrapper(wrapper):
        first = client.post(url, {"scores": SCORES}, format="json")
    assert fired, "the fault was never injected"
    assert first.status_code == 503
    assert first["Retry-After"]
    assert first.json()["retryable"] is True

    connection.close()  # the test's own view of the killed connection
    assert Rating.objects.count() == 0  # rolled back: nothing half-written

    retry = client.post(url, {"scores": SCORES}, format="json")
    assert retry.status_code == 201, retry.content
    again = client.post(url, {"scores": SCORES}, format="json")
    assert again.status_code == 200
    assert again.json()["id"] == retry.json()["id"]
    assert Rating.objects.filter(assignment_id=assignment).count() == 1


def test_connection_lost_after_commit_retry_returns_the_same_rating(project):
    """The response is lost after the rating committed: the client retries and gets that rating."""
    alice = project.memberships.get(user__username="alice").user
    client = _client(alice)
    assignment = client.post(f"/api/projects/{project.pk}/next/").json()["id"]
    url = f"/api/assignments/{assignment}/submit/"
    created = client.post(url, {"scores": SCORES}, format="json")
    assert created.status_code == 201
    # the client resends the answer it never heard back about (a different answer is a revision: 409)
    retry = client.post(url, {"scores": SCORES}, format="json")
    assert retry.status_code == 200
    assert retry.json()["id"] == created.json()["id"]
    assert Rating.objects.count() == 1
