"""A project with training: two real items' worth of raters, two training items, a policy."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from evalplatform.training.importing import import_training_items
from evalplatform.training.services import update_policy

User = get_user_model()

#: Two training items on the test rubric (tests.fixtures.RUBRIC): accuracy and helpfulness are likert 1-5
#: (ordinal), harmless is yes/no.
TRAINING = [
    {"id": "train-1", "prompt": "Reset my password", "responses": [{"model": "m1", "text": "Click 'Forgot'."}],
     "expected": {"accuracy": 5, "helpfulness": 4, "harmless": "yes"},
     "explanation": {"accuracy": "The steps are **exactly** right.", "harmless": "Nothing risky here."}},
    {"id": "train-2", "prompt": "Refund please", "responses": [{"model": "m1", "text": "No."}],
     "expected": {"accuracy": 2, "helpfulness": 1, "harmless": "yes"},
     "explanation": {"helpfulness": "A bare refusal helps nobody."}},
]

#: Answers that match ``TRAINING`` exactly, item by item.
RIGHT = [{"accuracy": 5, "helpfulness": 4, "harmless": 1}, {"accuracy": 2, "helpfulness": 1, "harmless": 1}]


def jsonl(records) -> io.BytesIO:
    return io.BytesIO(("\n".join(json.dumps(r) for r in records) + "\n").encode())


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def trained(make_project, no_report_refresh):
    """A project with 3 real items, raters alice and bob, the two training items, and training required
    (pass mark 0.75, tolerance 1, two attempts)."""
    project = make_project("trained", items=3, raters=("alice", "bob"))
    import_training_items(project=project, stream=jsonl(TRAINING), fmt="jsonl")
    update_policy(project=project, training_required=True, pass_mark=0.75, tolerance=1, max_attempts=2)
    return project


@pytest.fixture
def alice(trained):
    return User.objects.get(username="alice")


@pytest.fixture
def bob(trained):
    return User.objects.get(username="bob")


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def train(project, rater, answers) -> list:
    """Work through the training with these answers (one dict per item, in order); returns the answers."""
    from evalplatform.training import selectors, services

    attempt = services.start_attempt(project=project, rater=rater)
    given = []
    for scores in answers:
        item = selectors.next_training_item(attempt)
        given.append(services.submit_training_answer(attempt=attempt, item=item, scores=scores))
    return given
