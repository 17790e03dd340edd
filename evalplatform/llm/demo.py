"""The demo's judge: the fake OpenAI-compatible server, started inside the web process on first use.

One click on a project's runs page (``views.demo_judge``) starts the server on a free loopback port
(once per process), points the ``demo-judge`` endpoint at it and starts a judge run.  Offered only
where ``EVAL_FAKE_LLM_DEMO`` is on (default: with ``DEBUG``), and meant for the embedded mode, where
runs work in the same process; workers on other machines could not reach its loopback address
(run ``manage.py fake_llm --register demo-judge`` beside them instead).
"""

from __future__ import annotations

import threading

from evalplatform.llm.fake_server import FakeLLMServer
from evalplatform.llm.models import ModelEndpoint

DEMO_ENDPOINT = "demo-judge"
_server: FakeLLMServer | None = None
_lock = threading.Lock()


def demo_server() -> FakeLLMServer:
    global _server
    with _lock:
        if _server is None:
            _server = FakeLLMServer().start()
        return _server


def demo_endpoint() -> ModelEndpoint:
    """The ``demo-judge`` endpoint, pointed at this process's fake server (created on first use)."""
    server = demo_server()
    endpoint, _ = ModelEndpoint.objects.update_or_create(
        name=DEMO_ENDPOINT, defaults={"base_url": server.base_url},
        create_defaults={"base_url": server.base_url, "model": "fake-judge", "supports_json_schema": True,
                         "requests_per_minute": 1200, "max_concurrency": 4, "timeout_seconds": 10,
                         "price_input_per_million": 1, "price_output_per_million": 4},
    )
    return endpoint
