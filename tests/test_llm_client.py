"""The OpenAI-compatible client wrapper against the fault-injecting fake server."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from email.utils import formatdate

import openai
import pytest

from schemas.knowledge_graph import KnowledgeGraph
from scraper.extract.llm import (
    AuditLog,
    BudgetExceeded,
    CostMeter,
    LLMError,
    LLMUnavailable,
    ResponseFormat,
    TruncatedError,
    Usage,
    parse_mode,
)
from scraper.extract.llm.client import (
    PLACEHOLDER_API_KEY,
    llm_configured,
    make_openai_client,
    retry_after_seconds,
)
from tests.fake_llm import (
    LLAMA_CPP_PYTHON_REJECTION,
    FakeLLM,
    Reply,
    StatsRecorder,
    close_llm_clients,
    request_mode,
    serve_fake_llm,
    structured_llm,
)
from tests.processes import free_port

SCHEMA_JSON = KnowledgeGraph.model_json_schema()
MESSAGES = [{"role": "user", "content": "Extract: Acme Corporation hired Jane Doe."}]
VALID = {"entities": [{"name": "Jane Doe", "type": "Person"}], "relations": []}


@pytest.fixture(autouse=True)
async def _close_clients():
    yield
    await close_llm_clients()


def reask(errors: str) -> str:
    return f"Invalid: {errors}"


async def generate(llm, usage: Usage | None = None, **kwargs):
    answer = await llm.generate(
        MESSAGES, KnowledgeGraph, SCHEMA_JSON, reask, usage or Usage(), **kwargs
    )
    return answer.value


@pytest.fixture
def fake():
    with serve_fake_llm(FakeLLM(lambda body: Reply(VALID))) as server:
        yield server


def test_llm_configured_by_key_or_base_url():
    assert not llm_configured({})
    assert llm_configured({"OPENAI_API_KEY": "sk-test"})
    assert llm_configured({"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"})


async def test_base_url_without_key_uses_placeholder(fake, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    client = make_openai_client(2.0)
    assert client.api_key == PLACEHOLDER_API_KEY
    assert str(client.base_url).rstrip("/") == fake.base_url
    assert client.max_retries == 0  # retries are ours, so their counts are
    await client.chat.completions.create(model="m", messages=MESSAGES)
    assert fake.requests[0].headers["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"
    await client.close()


async def test_api_key_from_environment_is_sent(fake, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-environment-key")
    monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
    client = make_openai_client(2.0)
    await client.chat.completions.create(model="m", messages=MESSAGES)
    assert fake.requests[0].headers["authorization"] == "Bearer sk-test-environment-key"
    await client.close()


async def test_retries_429_500_and_timeouts_then_succeeds(fake):
    stats = StatsRecorder()
    llm = structured_llm(fake, stats, timeout=0.3, max_retries=4)
    fake.queue(
        Reply(status=429, headers={"Retry-After": "0"}),
        Reply(status=500),
        Reply(VALID, delay=1.5),  # beyond the 0.3 s timeout
        Reply(status=503),
    )
    usage = Usage()
    answer = await generate(llm, usage)
    assert answer.entities[0].name == "Jane Doe"
    assert len(fake.requests) == 5
    assert stats["llm/retries"] == 4
    assert stats["llm/retries/llm_rate_limited"] == 1
    assert stats["llm/retries/llm_server_error"] == 2
    assert stats["llm/retries/llm_timeout"] == 1
    assert usage.calls == stats["llm/calls"] == 5
    # Only the answered attempt reports tokens; they are the server's numbers.
    assert usage.prompt_tokens == stats["llm/prompt_tokens"] > 0
    assert usage.completion_tokens == stats["llm/completion_tokens"] > 0
    assert usage.cost_usd == pytest.approx(
        (usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.60) / 1e6
    )


async def test_retry_after_header_is_honoured(fake):
    llm = structured_llm(fake, StatsRecorder(), backoff_max=5.0)
    fake.queue(Reply(status=429, headers={"Retry-After": "0.4"}))
    await generate(llm)
    first, second = fake.requests
    assert second.received - first.received >= 0.4


def test_retry_after_forms():
    def error(headers):
        response = openai._base_client.httpx2.Response(429, headers=headers)
        response.request = openai._base_client.httpx2.Request("POST", "http://127.0.0.1/")
        return openai.RateLimitError("limited", response=response, body=None)

    assert retry_after_seconds(error({"retry-after-ms": "250"})) == 0.25
    assert retry_after_seconds(error({"Retry-After": "7"})) == 7.0
    in_a_minute = retry_after_seconds(error({"Retry-After": formatdate(time.time() + 60)}))
    assert 55 <= in_a_minute <= 61
    assert retry_after_seconds(error({})) is None


async def test_gives_up_after_max_retries(fake):
    stats = StatsRecorder()
    llm = structured_llm(fake, stats, max_retries=2)
    fake.queue(*[Reply(status=500)] * 3)
    with pytest.raises(LLMError) as failure:
        await generate(llm)
    assert failure.value.reason == "llm_server_error"
    assert len(fake.requests) == 3
    assert stats["llm/errors/llm_server_error"] == 1


async def test_client_errors_are_not_retried(fake):
    llm = structured_llm(fake, StatsRecorder())
    fake.queue(Reply(status=401, error="invalid api key"))
    with pytest.raises(LLMError) as failure:
        await generate(llm)
    assert failure.value.reason == "llm_auth_error"
    assert len(fake.requests) == 1


async def test_reasks_with_validation_errors_and_counts_every_attempt(fake):
    stats = StatsRecorder()
    llm = structured_llm(fake, stats)
    fake.queue(
        Reply("this is not JSON {"),
        Reply({"entities": [{"name": "Jane Doe", "type": "Alien"}]}),
    )
    usage = Usage()
    answer = await generate(llm, usage)
    assert answer == KnowledgeGraph.model_validate(VALID)
    assert stats["llm/reasks"] == 2
    third = fake.requests[2].body["messages"]
    assert third[-2] == {
        "role": "assistant",
        "content": '{"entities": [{"name": "Jane Doe", "type": "Alien"}]}',
    }
    assert third[-1]["role"] == "user" and "entities[0]: type:" in third[-1]["content"]
    assert "no JSON object" in fake.requests[1].body["messages"][-1]["content"]
    assert usage.calls == 3
    # Tokens of the rejected answers count too: every attempt reported some.
    assert usage.completion_tokens > 3 * 5
    assert usage.prompt_tokens == stats["llm/prompt_tokens"]


async def test_invalid_output_after_bounded_reasks(fake):
    llm = structured_llm(fake, StatsRecorder(), max_reasks=1)
    fake.queue(Reply("nope"), Reply('{"entities": "nope"}'))
    with pytest.raises(LLMError) as failure:
        await generate(llm)
    assert failure.value.reason == "llm_invalid_output"
    assert "entities" in failure.value.detail
    assert len(fake.requests) == 2


async def test_code_fenced_json_is_accepted(fake):
    llm = structured_llm(fake, StatsRecorder())
    fake.queue(Reply("```json\n" + json.dumps(VALID) + "\n```"))
    assert (await generate(llm)).entities[0].name == "Jane Doe"


async def test_truncated_answer_is_an_error_never_data(fake):
    stats = StatsRecorder()
    llm = structured_llm(fake, stats)
    fake.queue(Reply('{"entities": [{"name": "Jane', finish_reason="length"))
    with pytest.raises(TruncatedError):
        await generate(llm)
    assert stats["llm/truncated"] == 1


def rejecting(*modes: str, reply: Reply = LLAMA_CPP_PYTHON_REJECTION) -> FakeLLM:
    """A server that answers ``VALID`` but rejects the structured-output ``modes``."""
    return FakeLLM(lambda body: Reply(VALID), rejected_formats=dict.fromkeys(modes, reply))


async def test_format_is_negotiated_down_once_per_mode_and_never_retried(caplog):
    schema_refused = Reply(status=400, error="response_format: 'schema' is not supported")
    fake = rejecting("json_schema")
    fake.rejected_formats["json_object_schema"] = schema_refused
    with serve_fake_llm(fake):
        stats = StatsRecorder()
        llm = structured_llm(fake, stats, concurrency=8)
        with caplog.at_level(logging.WARNING, logger="scraper.extract.llm.client"):
            answers = await asyncio.gather(*(generate(llm) for _ in range(12)))
        modes = [request_mode(r.body) for r in fake.requests]
    assert all(a.entities[0].name == "Jane Doe" for a in answers)
    # Calls wait for the first answer, so the server rejects each mode once, not once per call.
    assert modes == ["json_schema", "json_object_schema"] + ["json_object"] * 12
    assert llm.mode is ResponseFormat.JSON_OBJECT
    assert stats["llm/format_rejections"] == 2
    assert "llm/retries" not in stats  # a rejected shape is not an outage
    warnings = [r.getMessage() for r in caplog.records if "rejected response_format" in r.message]
    assert len(warnings) == 2
    assert "json_schema (HTTP 500" in warnings[0] and "using json_object_schema" in warnings[0]


async def test_a_server_taking_no_response_format_gets_the_prompt_alone():
    with serve_fake_llm(rejecting("json_schema", "json_object_schema", "json_object")) as fake:
        llm = structured_llm(fake, StatsRecorder())
        await generate(llm)
        await generate(llm)
    assert [request_mode(r.body) for r in fake.requests][-2:] == ["prompt", "prompt"]
    assert "response_format" not in fake.requests[-1].body


async def test_llama_cpp_python_takes_json_object_with_the_schema():
    with serve_fake_llm(rejecting("json_schema")) as fake:
        await generate(structured_llm(fake, StatsRecorder()))
    sent = fake.requests[-1].body["response_format"]
    assert sent == {"type": "json_object", "schema": SCHEMA_JSON}


async def test_a_pinned_format_is_not_negotiated():
    with serve_fake_llm(rejecting("json_object")) as fake:
        llm = structured_llm(fake, StatsRecorder(), response_format=ResponseFormat.JSON_OBJECT)
        with pytest.raises(LLMUnavailable) as stopped:
            await generate(llm)
        with pytest.raises(LLMUnavailable):
            await generate(llm)
    assert [request_mode(r.body) for r in fake.requests] == ["json_object"]
    assert stopped.value.reason == "llm_format_rejected"
    assert "set LLM_RESPONSE_FORMAT=auto" in stopped.value.outage.message


def test_response_format_setting_values():
    assert parse_mode("auto") is None
    assert parse_mode(" JSON_Object_Schema ") is ResponseFormat.JSON_OBJECT_SCHEMA
    with pytest.raises(ValueError, match="LLM_RESPONSE_FORMAT must be one of auto, json_schema"):
        parse_mode("xml")


@pytest.mark.parametrize(
    ("reply", "reason", "fix"),
    [
        (
            Reply(status=401, error="Incorrect API key provided: sk-abc12345678"),
            "llm_auth_error",
            "set OPENAI_API_KEY",
        ),
        (Reply(status=403, error="forbidden"), "llm_auth_error", "set OPENAI_API_KEY"),
        (
            Reply(status=404, error="model 'gpt-9' not found"),
            "llm_model_not_found",
            "set LLM_MODEL",
        ),
        (
            Reply(status=429, error="You exceeded your current quota (insufficient_quota)"),
            "llm_quota_exceeded",
            "add credit",
        ),
    ],
)
async def test_errors_that_will_not_go_away_stop_every_call_at_once(reply, reason, fix):
    with serve_fake_llm(FakeLLM(lambda body: reply)) as fake:
        stats = StatsRecorder()
        llm = structured_llm(fake, stats, concurrency=8)
        outcomes = await asyncio.gather(*(generate(llm) for _ in range(10)), return_exceptions=True)
        later = await asyncio.gather(generate(llm), return_exceptions=True)
    assert len(fake.requests) == 1
    assert all(isinstance(o, LLMUnavailable) and o.reason == reason for o in outcomes + later)
    message = outcomes[0].outage.message
    assert fix in message and fake.base_url in message
    assert "sk-abc12345678" not in message
    assert stats[f"llm/stopped/{reason}"] == 1


async def test_a_server_that_is_not_listening_stops_the_calls_after_a_few_attempts():
    nowhere = FakeLLM()
    nowhere.base_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    stats = StatsRecorder()
    llm = structured_llm(nowhere, stats, fail_fast_after=3, max_retries=4)
    outcomes = await asyncio.gather(*(generate(llm) for _ in range(10)), return_exceptions=True)
    assert stats["llm/calls"] == 3
    assert all(isinstance(o, LLMUnavailable) and o.reason == "llm_unreachable" for o in outcomes)
    assert "set OPENAI_BASE_URL" in outcomes[0].outage.message


async def test_repeated_server_errors_stop_the_calls():
    with serve_fake_llm(FakeLLM(lambda body: Reply(status=502, error="bad gateway"))) as fake:
        llm = structured_llm(fake, StatsRecorder(), fail_fast_after=5, max_retries=2)
        outcomes = await asyncio.gather(*(generate(llm) for _ in range(6)), return_exceptions=True)
    assert len(fake.requests) == 5
    assert outcomes[-1].reason == "llm_server_error" and "HTTP 502" in outcomes[-1].outage.message


async def test_answers_between_server_errors_keep_the_calls_going(fake):
    llm = structured_llm(fake, StatsRecorder(), fail_fast_after=3, max_retries=2)
    for _ in range(3):
        fake.queue(Reply(status=500), Reply(status=500))
        await generate(llm)
    fake.queue(Reply(VALID, delay=1.0), Reply(VALID, delay=1.0), Reply(VALID, delay=1.0))
    with pytest.raises(LLMError) as timed_out:  # timeouts are a slow model, not a gone one
        await generate(structured_llm(fake, StatsRecorder(), timeout=0.2, max_retries=2))
    assert timed_out.value.reason == "llm_timeout"
    assert llm.breaker.outage is None


async def test_a_looping_answer_is_asked_again_with_a_frequency_penalty(fake):
    item = '{"name": "Jane Doe", "type": "Person", "description": "She works at Acme."}, '
    loop = '{"entities": [' + item * 40
    fake.responder = lambda body: (
        Reply(VALID) if "frequency_penalty" in body else Reply(loop, finish_reason="length")
    )
    stats = StatsRecorder()
    answer = await generate(structured_llm(fake, stats))
    assert answer.entities[0].name == "Jane Doe"
    assert [r.body.get("frequency_penalty") for r in fake.requests] == [None, 0.5]
    assert stats["llm/loops"] == 1 and "llm/truncated" not in stats


async def test_a_long_answer_cut_without_a_loop_is_truncated_at_once(fake):
    names = ", ".join(f'{{"name": "Person Number {i}", "type": "Person"}}' for i in range(60))
    fake.queue(Reply('{"entities": [' + names, finish_reason="length"))
    with pytest.raises(TruncatedError):
        await generate(structured_llm(fake, StatsRecorder()))
    assert len(fake.requests) == 1


async def test_semaphore_bounds_calls_in_flight():
    with serve_fake_llm(FakeLLM(lambda body: Reply(VALID), latency=0.1)) as fake:
        llm = structured_llm(fake, StatsRecorder(), concurrency=3)
        await asyncio.gather(*(generate(llm) for _ in range(9)))
        assert len(fake.requests) == 9
        assert fake.max_in_flight == 3


async def test_budget_stops_new_calls(fake):
    meter = CostMeter(budget_usd=1e-9)
    llm = structured_llm(fake, StatsRecorder(), meter=meter)
    await generate(llm)
    assert meter.exhausted
    with pytest.raises(BudgetExceeded):
        await generate(llm)
    assert len(fake.requests) == 1


async def test_calls_waiting_for_a_slot_see_what_the_calls_before_them_spent():
    with serve_fake_llm(FakeLLM(lambda body: Reply(VALID), latency=0.2)) as fake:
        meter = CostMeter()
        llm = structured_llm(fake, StatsRecorder(), meter=meter, concurrency=1)
        await generate(llm)  # answered: calls no longer go one at a time to probe the server
        assert meter.spent_usd
        meter.budget_usd = 1.5 * meter.spent_usd  # the next answer spends it
        results = await asyncio.gather(*(generate(llm) for _ in range(3)), return_exceptions=True)
        assert len(fake.requests) == 2
        assert [isinstance(r, BudgetExceeded) for r in results].count(True) == 2


async def test_unknown_model_price_counts_tokens_without_cost(fake, caplog):
    stats = StatsRecorder()
    llm = structured_llm(fake, stats, model="my-local-model")
    usage = Usage()
    with caplog.at_level(logging.WARNING, logger="scraper.extract.llm.client"):
        await generate(llm, usage)
        await generate(llm, usage)
    assert usage.cost_usd is None and usage.prompt_tokens > 0
    assert stats["llm/unpriced_calls"] == 2
    assert sum("No price for model" in r.getMessage() for r in caplog.records) == 1


async def test_audit_log_has_every_request_and_response_without_keys(fake, tmp_path, monkeypatch):
    secret = "sk-proj-SECRETSECRETSECRET"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    llm = structured_llm(fake, StatsRecorder(), audit=audit)
    llm.client = make_openai_client(2.0, base_url=fake.base_url)
    fake.queue(Reply(status=429, headers={"Retry-After": "0", "X-Echo": f"Bearer {secret}"}))
    await generate(llm)
    audit.close()
    text = path.read_text()
    events = [json.loads(line) for line in text.splitlines()]
    assert [e["event"] for e in events] == ["request", "error", "request", "response"]
    assert events[0]["messages"] == MESSAGES
    assert events[3]["content"] == json.dumps(VALID)
    assert secret not in text and "[REDACTED]" in text
