"""The fake OpenAI-compatible server, through the real ``openai`` client over the loopback."""

from __future__ import annotations

import json

import openai
import pytest
import requests

from evalplatform.llm.fake_server import FakeLLMServer


def client(server: FakeLLMServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=5)


def ask(server: FakeLLMServer, text: str = "My invoice is wrong", **kwargs):
    return client(server).chat.completions.create(model="fake-a", messages=[{"role": "user", "content": text}], **kwargs)


def test_same_request_same_answer_and_usage(fake_llm):
    first, second = ask(fake_llm), ask(fake_llm)
    assert first.choices[0].message.content == second.choices[0].message.content
    assert "My invoice is wrong" in first.choices[0].message.content
    assert first.usage.prompt_tokens == 4
    assert first.usage.completion_tokens > 0
    assert ask(fake_llm, "Other question").choices[0].message.content != first.choices[0].message.content


def test_json_schema_answer_satisfies_the_schema(fake_llm):
    schema = {"type": "object", "properties": {"scores": {"type": "object", "properties": {
        "accuracy": {"enum": [1, 2, 3, 4, 5]}, "harmless": {"enum": [0, 1]}, "why": {"type": ["string", "null"]}}}}}
    answer = ask(fake_llm, response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}})
    value = json.loads(answer.choices[0].message.content)
    assert value["scores"]["accuracy"] in range(1, 6)
    assert value["scores"]["harmless"] in (0, 1)
    assert isinstance(value["scores"]["why"], str)


def test_json_mode_reads_the_schema_from_the_prompt(fake_llm):
    schema = {"type": "object", "properties": {"score": {"enum": [7, 8]}}}
    answer = ask(fake_llm, f"Rate it. <schema>{json.dumps(schema)}</schema>", response_format={"type": "json_object"})
    assert json.loads(answer.choices[0].message.content)["score"] in (7, 8)


def test_throttle_answers_429_with_retry_after(fake_llm):
    fake_llm.control.add("throttle", count=1, retry_after=2.5)
    with pytest.raises(openai.RateLimitError) as caught:
        ask(fake_llm)
    assert caught.value.response.headers["retry-after"] == "2.5"
    assert ask(fake_llm).choices  # only the next request was throttled


def test_fail_every_third_request_for_one_model(fake_llm):
    fake_llm.control.add("fail", model="fake-a", every=3)
    outcomes = []
    for _ in range(6):
        try:
            ask(fake_llm)
            outcomes.append("ok")
        except openai.InternalServerError:
            outcomes.append("500")
    assert outcomes == ["ok", "ok", "500", "ok", "ok", "500"]
    other = client(fake_llm).chat.completions.create(model="fake-b", messages=[{"role": "user", "content": "x"}])
    assert other.choices


def test_malformed_json_mode_answer(fake_llm):
    fake_llm.control.add("malformed", count=1)
    answer = ask(fake_llm, response_format={"type": "json_object"})
    with pytest.raises(ValueError):
        json.loads(answer.choices[0].message.content)


def test_records_authorization_and_in_flight(fake_llm):
    ask(fake_llm)
    (record,) = fake_llm.control.records
    assert record.authorization == "Bearer sk-test"
    assert record.status == 200
    assert fake_llm.control.max_in_flight["fake-a"] == 1


def test_control_over_http(fake_llm):
    url = fake_llm.base_url.rsplit("/v1", 1)[0] + "/_control"
    answer = requests.post(url, json={"rules": [{"kind": "fail", "count": 1}]}, timeout=5)
    assert answer.status_code == 200
    assert answer.json()["rules"] == ["fail"]
    with pytest.raises(openai.InternalServerError):
        ask(fake_llm)
    assert requests.post(url, json={"rules": [{"kind": "explode"}]}, timeout=5).status_code == 400
