"""The login brake behind a proxy: the client is the address the trusted proxy records, an attacker
slows down only themselves and, for an account, causes delays of a minute at most (never a lock-out),
and every web process counts into one shared set of counters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from evalplatform.accounts import throttle

pytestmark = pytest.mark.django_db
PASSWORD = "pw-for-tests-123"
PROXY = "10.0.0.1"  # the documented TLS proxy: every request reaches Django from it
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def people(db):
    from tests.fixtures import UserFactory

    return [UserFactory(username=name, is_staff=name == "admin") for name in ("lead", "alice", "bob", "admin")]


@pytest.fixture
def behind_proxy(settings):
    settings.EVAL_NUM_PROXIES = 1
    settings.EVAL_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"


def login(username: str, password: str, client_ip: str, *, forged: str = ""):
    chain = f"{forged}, {client_ip}" if forged else client_ip
    return Client().post("/accounts/login/", {"username": username, "password": password},
                         REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=chain)


def test_behind_the_proxy_one_attackers_failures_do_not_stop_other_users(behind_proxy, people):
    for n in range(throttle.MAX_FAILURES + 5):
        login(f"victim{n}", "wrong", "203.0.113.66")
    assert login("lead", "wrong", "203.0.113.66").status_code == 429  # the attacker is slowed down
    assert login("alice", PASSWORD, "198.51.100.7").status_code == 302  # everyone else logs in
    assert login("bob", PASSWORD, "198.51.100.8").status_code == 302


def test_a_forged_forwarded_for_in_front_of_the_proxys_entry_is_ignored(behind_proxy, people):
    for n in range(throttle.MAX_FAILURES + 2):
        login(f"x{n}", "wrong", "203.0.113.66", forged=f"192.0.2.{n}")  # the client varies the part it writes
    assert login("alice", PASSWORD, "203.0.113.66", forged="192.0.2.200").status_code == 429


def test_without_a_configured_proxy_the_header_is_not_trusted(settings, people):
    settings.EVAL_NUM_PROXIES = 0
    request = type("R", (), {"META": {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}})()
    assert throttle.client_address(request) == "192.0.2.1"
    settings.EVAL_NUM_PROXIES = 1
    assert throttle.client_address(request) == "1.2.3.4"
    settings.EVAL_NUM_PROXIES = 2
    request.META["HTTP_X_FORWARDED_FOR"] = "6.6.6.6, 1.2.3.4, 10.0.0.9"
    assert throttle.client_address(request) == "1.2.3.4"


def test_failures_on_one_account_from_many_addresses_delay_it_progressively_never_locking_it(
        behind_proxy, people, monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(throttle.time, "time", lambda: clock[0])
    waits = []
    for n in range(throttle.MAX_FAILURES + 10):
        clock[0] += 120  # the attacker waits out every delay, from a new address each time
        response = login("admin", "wrong", f"203.0.113.{n}")
        assert response.status_code == 200, n
        waits.append(throttle.wait_seconds(throttle.failure_keys(
            type("R", (), {"META": {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": "198.51.100.1"}})(), "admin")))
    assert waits[: throttle.MAX_FAILURES - 1] == [0] * (throttle.MAX_FAILURES - 1)
    grown = waits[throttle.MAX_FAILURES - 1:]
    assert grown[:4] == [1, 2, 4, 8]
    assert max(grown) == throttle.ACCOUNT_MAX_DELAY == 60
    # The real admin, elsewhere: told to wait a minute at most, and then let in.
    owner = login("admin", PASSWORD, "198.51.100.1")
    assert owner.status_code == 429
    assert 0 < int(owner["Retry-After"]) <= 60
    clock[0] += 61
    assert login("admin", PASSWORD, "198.51.100.1").status_code == 302


def test_the_api_answers_the_same_delay(behind_proxy, people):
    api = APIClient()
    for n in range(throttle.MAX_FAILURES):
        api.post("/api/auth/token/", {"username": "alice", "password": "x"}, format="json",
                 REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    refused = api.post("/api/auth/token/", {"username": "alice", "password": PASSWORD}, format="json",
                       REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60


COUNT_IN_A_PROCESS = """
import django, json, sys
django.setup()
from evalplatform.accounts import throttle
request = type("R", (), {"META": {"REMOTE_ADDR": "192.0.2.9"}})()
keys = throttle.failure_keys(request, "lead")
for _ in range(int(sys.argv[1])):
    throttle.count_failure(keys)
from django.conf import settings
from django.core.cache import caches
print(json.dumps({"count": caches["login"].get(keys[2].key), "backend": settings.CACHES["login"]["BACKEND"]}))
"""


def run_process(tmp_path, n: int, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update({"DJANGO_SETTINGS_MODULE": "evalplatform.settings", "EVAL_VAR_DIR": str(tmp_path), **extra})
    result = subprocess.run([sys.executable, "-c", COUNT_IN_A_PROCESS, str(n)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_separate_web_processes_count_into_one_counter_in_the_embedded_mode(tmp_path):
    assert run_process(tmp_path, 3)["count"] == 3
    second = run_process(tmp_path, 4)  # another process (as another gunicorn worker) sees the first's
    assert second["count"] == 7
    assert second["backend"].endswith("FileBasedCache")


@pytest.mark.redis
def test_with_redis_the_counter_lives_in_redis(tmp_path):
    import redis

    from tests.conftest import redis_url

    url = redis_url()
    out = run_process(tmp_path, 2, REDIS_URL=url)
    assert out["backend"].endswith("RedisCache")
    assert out["count"] == 2
    assert run_process(tmp_path / "elsewhere", 1, REDIS_URL=url)["count"] == 3  # no shared files: Redis
    client = redis.Redis.from_url(url)
    for key in client.scan_iter("login:*login-fail:*"):
        client.delete(key)
