"""A fault-injecting fake OpenAI-compatible Chat Completions server on 127.0.0.1.

It answers ``POST /v1/chat/completions`` like an OpenAI-compatible server. By
default it extracts a knowledge graph from the page text with a simple rule
(runs of capitalised words are entities); tests script faults with
:class:`Reply` objects (consumed in order before the default answer) or a
``responder`` that decides from the request. Used by tests and by
``bench/extraction_throughput.py`` (``latency`` adds a fixed delay per reply).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scraper.chunk.tokens import count_tokens
from scraper.extract.llm import (
    AuditLog,
    CostMeter,
    LLMSettings,
    StructuredLLM,
    make_openai_client,
    price_table,
)

_PAGE_TEXT = re.compile(r'<page_text id="(\w+)">\n(.*)\n</page_text id="\1">', re.S)
_NAME = re.compile(r"\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\b")
_ORG_SUFFIX = re.compile(r"\b(Inc|Corp|Corporation|Ltd|GmbH|Company|Labs|Foundation)$")


@dataclass
class Reply:
    """One scripted answer: a completion (``content``) or an HTTP error (``status``)."""

    content: str | dict[str, Any] | None = None  # dicts are sent as JSON text
    status: int = 200
    finish_reason: str = "stop"
    headers: dict[str, str] = field(default_factory=dict)
    error: str = "scripted error"
    delay: float = 0.0  # seconds before answering (beyond the client timeout = a timeout)
    usage: bool = True  # include a usage block


@dataclass
class Request:
    """What the server received, and when (``time.monotonic()``)."""

    body: dict[str, Any]
    headers: dict[str, str]  # names in lower case
    received: float = 0.0
    answered: float | None = None  # time.monotonic() when the reply was sent
    held: bool = False  # taken while the server held its replies (FakeLLM.hold): unanswered
    replied: bool = False  # its reply reached the socket (what a real server bills)
    usage: dict[str, int] | None = None  # the reply's usage block, once replied

    @property
    def page_text(self) -> str:
        return page_text(self.body)


Responder = Callable[[dict[str, Any]], Reply]


def page_text(body: dict[str, Any]) -> str:
    """The delimited page text of a chat request ('' when there is none)."""
    for message in body.get("messages", []):
        match = _PAGE_TEXT.search(message.get("content") or "")
        if match:
            return match.group(2)
    return ""


def request_mode(body: dict[str, Any]) -> str:
    """The structured-output mode of a request, named as ``LLM_RESPONSE_FORMAT`` names it."""
    response_format = body.get("response_format")
    if not response_format:
        return "prompt"
    if response_format.get("type") == "json_object" and "schema" in response_format:
        return "json_object_schema"
    return response_format.get("type", "prompt")


# How llama-cpp-python's server answers a json_schema response_format (seen on 0.3.36).
LLAMA_CPP_PYTHON_REJECTION = Reply(
    status=500,
    error="1 validation error:\n  {'type': 'literal_error', 'loc': ('body', 'response_format', "
    "'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}",
)


def knowledge_graph_answer(text: str) -> dict[str, Any]:
    """A default-schema answer: every run of capitalised words is an entity."""
    names = list(dict.fromkeys(_NAME.findall(text)))
    entities = [
        {"name": name, "type": "Organization" if _ORG_SUFFIX.search(name) else "Thing"}
        for name in names
    ]
    return {"entities": entities, "relations": []}


def default_responder(body: dict[str, Any]) -> Reply:
    return Reply(knowledge_graph_answer(page_text(body)))


class FakeLLM:
    """The server's state: scripted replies, the requests seen, options."""

    def __init__(
        self,
        responder: Responder = default_responder,
        *,
        latency: float = 0.0,
        rejected_formats: dict[str, Reply] | None = None,
    ) -> None:
        self.responder = responder
        self.latency = latency
        # How the server answers requests in a structured-output mode it does not take.
        self.rejected_formats = rejected_formats or {}
        self.script: deque[Reply] = deque()
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.base_url = ""
        self.holding = False
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def hold(self) -> None:
        """From now on, take requests and answer none (until the server stops): what a
        client killed meanwhile paid for is the replies sent before, nothing more."""
        with self._lock:
            self.holding = True

    def replied(self) -> list[Request]:
        """The requests answered so far (a reply, whatever its status, was sent)."""
        with self._lock:
            return [r for r in self.requests if r.replied]

    def settled(self) -> bool:
        """Whether every request taken is answered or held: no reply is on its way."""
        with self._lock:
            return all(r.held or r.answered is not None for r in self.requests)

    def queue(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order."""
        self.script.extend(replies)

    def reply_for(self, body: dict[str, Any]) -> Reply:
        rejection = self.rejected_formats.get(request_mode(body))
        if rejection is not None:
            return rejection
        with self._lock:
            scripted = self.script.popleft() if self.script else None
        return scripted or self.responder(body)

    def completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content = reply.content
        text = content if isinstance(content, str) or content is None else json.dumps(content)
        result: dict[str, Any] = {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": reply.finish_reason,
                }
            ],
        }
        if reply.usage:
            prompt_tokens = sum(count_tokens(m.get("content") or "") for m in body["messages"])
            completion_tokens = count_tokens(text or "")
            result["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        return result

    def wait(self, seconds: float) -> None:
        """Sleep that ends early when the server stops."""
        if seconds > 0:
            self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects
    # Headers and body go out in separate writes: with Nagle's algorithm on, the body would
    # wait for the client's delayed ACK (~40 ms a reply), as no real server makes it wait.
    disable_nagle_algorithm = True
    fake: FakeLLM

    def do_POST(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._send(400, {"error": {"message": "request body is not JSON"}})
            return
        with fake._lock:
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = Request(body, headers, time.monotonic(), held=fake.holding)
            fake.requests.append(request)
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
        if request.held:
            fake._stopping.wait()  # never answered: the server stops with it unanswered
            with fake._lock:
                fake.in_flight -= 1
            return
        try:
            reply = fake.reply_for(body)
            if reply.status != 200:
                error = {"message": reply.error, "type": "fake_error", "code": reply.status}
                status, payload = reply.status, {"error": error}
            else:
                status, payload = 200, fake.completion(body, reply)
            # The delay counts from the request's arrival: building the reply is part of it.
            fake.wait(request.received + fake.latency + reply.delay - time.monotonic())
            if self._send(status, payload, reply.headers):
                request.usage = payload.get("usage")
                request.replied = True
        finally:
            with fake._lock:
                fake.in_flight -= 1
                request.answered = time.monotonic()

    def _send(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> bool:
        """Send the reply; False when the client hung up first."""
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            return False  # the client gave up (timeout tests)
        return True

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that time out hang up mid-reply


@contextmanager
def serve_fake_llm(fake: FakeLLM | None = None) -> Iterator[FakeLLM]:
    """Run ``fake`` (or a default one) on a free port of 127.0.0.1 until the block ends."""
    fake = fake or FakeLLM()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = _Server(("127.0.0.1", 0), handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake._stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class StatsRecorder(dict):
    """A stand-in for Scrapy's stats collector: ``inc_value`` adds up."""

    def inc_value(self, key: str, count: float = 1) -> None:
        self[key] = self.get(key, 0) + count


def fast_llm_settings(**overrides: Any) -> LLMSettings:
    """LLM settings with test-sized timeouts and backoff."""
    values: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "timeout": 2.0,
        "max_retries": 3,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "max_reasks": 2,
        "max_tokens": 512,
        **overrides,
    }
    return LLMSettings(**values)


def structured_llm(
    fake: FakeLLM,
    stats: StatsRecorder,
    *,
    meter: CostMeter | None = None,
    audit: AuditLog | None = None,
    **overrides: Any,
) -> StructuredLLM:
    """A :class:`StructuredLLM` talking to ``fake`` with a placeholder key."""
    settings = fast_llm_settings(**overrides)
    client = make_openai_client(settings.timeout, base_url=fake.base_url, environ={})
    _open_clients.append(client)
    return StructuredLLM(
        client,
        settings,
        prices=price_table(),
        meter=meter or CostMeter(),
        on_stat=stats.inc_value,
        audit=audit,
    )


_open_clients: list[Any] = []


async def close_llm_clients() -> None:
    """Close the clients :func:`structured_llm` made (call it before the event loop ends)."""
    while _open_clients:
        await _open_clients.pop().close()
