"""A small, deterministic OpenAI-compatible server for tests and the demo (``manage.py fake_llm``).

It answers ``POST /v1/chat/completions`` (and ``GET /v1/models``) the way the real API does, so
every path of generation and judge runs is exercised through the maintained ``openai`` client over
HTTP on the loopback.  Answers depend only on the request:

- a plain request gets a draft reply derived from the model name and the last user message;
- a JSON request (``response_format`` ``json_schema``, or ``json_object`` with the schema in the
  prompt between ``<schema>`` and ``</schema>``) gets an object that satisfies the schema, each value
  chosen from a hash of (model, prompt, property), so the same request always gets the same scores.

It can be told to misbehave, per model or for all, through ``server.control`` in a test or
``POST /_control`` (JSON) for the demo: ``fail`` (answer 500), ``throttle`` (answer 429 with a
``Retry-After``), ``malformed`` (answer JSON mode with text that is not JSON), ``off_scale`` (a
schema-shaped answer with a value out of range), ``echo_key`` (a 401 whose message repeats the
request's ``Authorization`` header, as careless gateways do, to test that no key is stored or logged),
``no_schema`` (a 400 to any ``json_schema`` response format, as servers without structured output do), each for the next ``n`` requests or every
``every``-th one; ``delay`` adds latency.  Every request is recorded (model, arrival and finish
times, the ``Authorization`` header, what it answered) so tests can check rate and concurrency
limits and compare stored results with what the server said.

Pure standard library; no Django.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SCHEMA_IN_PROMPT = re.compile(r"<schema>(.*?)</schema>", re.S)
FAULTS = ("fail", "throttle", "malformed", "off_scale", "echo_key", "no_schema")


@dataclass
class Rule:
    """Misbehave: ``kind`` for the next ``count`` matching requests (0: no limit), or every ``every``-th."""

    kind: str
    model: str | None = None
    count: int = 0
    every: int = 0
    retry_after: float = 0.05
    seen: int = 0

    def applies(self, model: str) -> bool:
        if self.model not in (None, "", model):
            return False
        if self.every:
            self.seen += 1
            return self.seen % self.every == 0
        if self.count:
            if self.seen >= self.count:
                return False
            self.seen += 1
            return True
        return True


@dataclass
class Record:
    model: str
    started: float
    finished: float = 0.0
    status: int = 200
    authorization: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    response_format: dict[str, Any] | None = None
    content: str = ""
    fault: str = ""


class Control:
    """What the server does: fault rules, latency, and the log of requests (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: list[Rule] = []
        self.delay = 0.0
        self.records: list[Record] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}

    def add(self, kind: str, *, model: str | None = None, count: int = 0, every: int = 0,
            retry_after: float = 0.05) -> Rule:
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULTS)}")
        rule = Rule(kind, model, count, every, retry_after)
        with self.lock:
            self.rules.append(rule)
        return rule

    def reset(self) -> None:
        with self.lock:
            self.rules.clear()
            self.delay = 0.0
            self.records.clear()
            self.in_flight.clear()
            self.max_in_flight.clear()

    def fault_for(self, model: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.applies(model):
                    return rule
        return None

    def enter(self, model: str) -> None:
        with self.lock:
            self.in_flight[model] = self.in_flight.get(model, 0) + 1
            self.max_in_flight[model] = max(self.max_in_flight.get(model, 0), self.in_flight[model])

    def leave(self, model: str, record: Record) -> None:
        with self.lock:
            self.in_flight[model] -= 1
            record.finished = time.monotonic()
            self.records.append(record)

    def answered(self, model: str | None = None) -> list[Record]:
        """Requests answered 200 (optionally for one model), in the order they finished."""
        with self.lock:
            return [r for r in self.records if r.status == 200 and (model is None or r.model == model)]


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def _prompt_text(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("content", "")) for m in messages)


def draft_reply(model: str, messages: list[dict[str, Any]]) -> str:
    """The deterministic answer to a plain request."""
    user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
    n = _digest(model, _prompt_text(messages)) % 1000
    return f"[{model}] Thank you for reaching out about: {user.strip()[:80]} (draft {n:03d})"


def value_for(schema: dict[str, Any], seed: str) -> Any:
    """A value satisfying the (small) JSON schema, chosen deterministically from ``seed``."""
    if "enum" in schema:
        options = schema["enum"]
        return options[_digest(seed) % len(options)]
    if "anyOf" in schema or "oneOf" in schema:
        options = schema.get("anyOf") or schema.get("oneOf") or []
        non_null = [o for o in options if o.get("type") != "null"] or options
        return value_for(non_null[0], seed)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {key: value_for(sub, f"{seed}/{key}") for key, sub in props.items()}
    if kind == "integer":
        low, high = int(schema.get("minimum", 0)), int(schema.get("maximum", 10))
        return low + _digest(seed) % (high - low + 1)
    if kind == "number":
        return round((_digest(seed) % 1000) / 1000, 3)
    if kind == "boolean":
        return bool(_digest(seed) % 2)
    if kind == "array":
        return [value_for(schema.get("items", {}), f"{seed}/0")]
    if kind == "null":
        return None
    return f"fake reasoning {_digest(seed) % 1000:03d}"


def _schema_of(response_format: dict[str, Any] | None, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not response_format:
        return None
    if response_format.get("type") == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
    if response_format.get("type") == "json_object":
        found = SCHEMA_IN_PROMPT.search(_prompt_text(messages))
        if found:
            try:
                return json.loads(found.group(1))
            except ValueError:
                pass
        return {"type": "object", "properties": {"answer": {"type": "string"}}}
    return None


def _off_scale(schema: dict[str, Any], value: Any) -> Any:
    """``value`` with its first integer or enum property pushed off its scale."""
    if not isinstance(value, dict):
        return value
    for key, sub in schema.get("properties", {}).items():
        if isinstance(value.get(key), dict):
            value[key] = _off_scale(sub, value[key])
            return value
        if "enum" in sub or sub.get("type") == "integer":
            value[key] = 999
            return value
    return value


def tokens(text: str) -> int:
    """A stand-in for a tokenizer: whitespace-separated words."""
    return len(text.split())


class Handler(BaseHTTPRequestHandler):
    server: FakeLLMServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests and the demo read server.control.records instead

    _pending: tuple[str, Record] | None = None

    def _settle(self) -> None:
        """Log the request before its answer leaves: a client that has its answer must find the record."""
        if self._pending is not None:
            model, record = self._pending
            self._pending = None
            self.server.control.leave(model, record)

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self._settle()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model", "owned_by": "fake"}]})
        else:
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        body = self._body()
        if self.path.rstrip("/") == "/_control":
            self._control(body)
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        control = self.server.control
        model = str(body.get("model", ""))
        messages = body.get("messages") or []
        record = Record(model=model, started=time.monotonic(), authorization=self.headers.get("Authorization", ""),
                        messages=messages, response_format=body.get("response_format"))
        control.enter(model)
        self._pending = (model, record)
        try:
            self._complete(control, model, messages, body, record)
        finally:
            self._settle()

    def _complete(self, control: Control, model: str, messages: list, body: dict, record: Record) -> None:
        if control.delay:
            time.sleep(control.delay)
        rule = control.fault_for(model)
        if rule is not None and rule.kind == "fail":
            record.status, record.fault = 500, "fail"
            self._send(500, {"error": {"message": "injected failure", "type": "server_error"}})
            return
        if rule is not None and rule.kind == "throttle":
            record.status, record.fault = 429, "throttle"
            self._send(429, {"error": {"message": "rate limited", "type": "rate_limit_error"}},
                       {"Retry-After": f"{rule.retry_after:g}"})
            return
        if rule is not None and rule.kind == "echo_key":
            record.status, record.fault = 401, "echo_key"
            self._send(401, {"error": {"message": f"invalid credentials: {record.authorization}",
                                       "type": "invalid_request_error"}})
            return
        fmt = body.get("response_format") or {}
        if rule is not None and rule.kind == "no_schema" and isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            record.status, record.fault = 400, "no_schema"
            self._send(400, {"error": {"message": "response_format json_schema is not supported by this model",
                                       "type": "invalid_request_error", "param": "response_format"}})
            return
        if not isinstance(messages, list) or not messages:
            record.status = 400
            self._send(400, {"error": {"message": "messages: required", "type": "invalid_request_error"}})
            return
        schema = _schema_of(body.get("response_format"), messages)
        seed = f"{model}\x1f{_prompt_text(messages)}"
        if schema is None:
            content = draft_reply(model, messages)
        elif rule is not None and rule.kind == "malformed":
            record.fault = "malformed"
            content = '{"scores": {"accuracy": 4,, oops this is not JSON'
        else:
            value = value_for(schema, seed)
            if rule is not None and rule.kind == "off_scale":
                record.fault = "off_scale"
                value = _off_scale(schema, value)
            content = json.dumps(value)
        record.content = content
        prompt_tokens = tokens(_prompt_text(messages))
        completion_tokens = tokens(content)
        self._send(200, {
            "id": f"chatcmpl-{_digest(seed) % 10**12:012d}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "system_fingerprint": "fake",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        })

    def _control(self, body: dict[str, Any]) -> None:
        control = self.server.control
        try:
            if body.get("reset"):
                control.reset()
            if "delay" in body:
                control.delay = float(body["delay"])
            for rule in body.get("rules", []):
                control.add(str(rule["kind"]), model=rule.get("model"), count=int(rule.get("count", 0)),
                            every=int(rule.get("every", 0)), retry_after=float(rule.get("retry_after", 0.05)))
        except (KeyError, TypeError, ValueError) as exc:
            self._send(400, {"error": str(exc)})
            return
        self._send(200, {"rules": [r.kind for r in control.rules], "delay": control.delay,
                         "requests": len(control.records)})


class FakeLLMServer(ThreadingHTTPServer):
    daemon_threads = True
    # Many clients at once (a run's workers): the default backlog of 5 drops connections.
    request_queue_size = 128

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), Handler)
        self.control = Control()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{name}:{port}/v1"

    def start(self) -> FakeLLMServer:
        """Serve in a daemon thread; returns self (``server.base_url`` is ready to use)."""
        self._thread = threading.Thread(target=self.serve_forever, name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
