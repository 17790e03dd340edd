"""``manage.py fake_llm [--port 8765] [--register NAME]``: serve the fake OpenAI-compatible endpoint.

For the demo and for trying runs without a model: deterministic answers, and faults on demand
(``--fail-every``, ``--throttle-every``, ``--malformed-every``, or ``POST /_control`` while it runs).
``--register NAME`` creates or points the model endpoint NAME at this server.  Loopback only.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evalplatform.llm.fake_server import FakeLLMServer
from evalplatform.llm.models import ModelEndpoint


class Command(BaseCommand):
    help = "Serve a deterministic fake OpenAI-compatible endpoint on the loopback (tests and the demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
        parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every answer")
        parser.add_argument("--fail-every", type=int, default=0, metavar="N", help="answer 500 to every Nth request")
        parser.add_argument("--throttle-every", type=int, default=0, metavar="N", help="answer 429 to every Nth request")
        parser.add_argument("--malformed-every", type=int, default=0, metavar="N",
                            help="answer every Nth JSON request with text that is not JSON")
        parser.add_argument("--register", metavar="NAME", help="create or update the model endpoint NAME to use this server")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            server = FakeLLMServer("127.0.0.1", options["port"])
        except OSError as exc:
            raise CommandError(f"cannot listen on 127.0.0.1:{options['port']}: {exc.strerror}") from None
        server.control.delay = options["delay"]
        for kind, every in (("fail", options["fail_every"]), ("throttle", options["throttle_every"]),
                            ("malformed", options["malformed_every"])):
            if every:
                server.control.add(kind, every=every)
        if options["register"]:
            endpoint, created = ModelEndpoint.objects.update_or_create(
                name=options["register"], defaults={"base_url": server.base_url},
                create_defaults={"base_url": server.base_url, "model": "fake-judge", "supports_json_schema": False,
                                 "requests_per_minute": 600, "max_concurrency": 4, "timeout_seconds": 10},
            )
            self.stderr.write(f"{'created' if created else 'updated'} model endpoint {endpoint.name} -> {server.base_url}")
        self.stdout.write(f"fake OpenAI-compatible endpoint at {server.base_url} (Ctrl-C stops it)")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
