"""A local HTTP server speaking the Anthropic Messages and OpenAI Chat Completions wire formats.

Test support only. Each request takes the next scripted Step (a success when the script is
empty) and is answered in the wire format of the path it came to: `POST /v1/messages` or
`POST /v1/chat/completions`. Every request is recorded so tests can assert how many calls the
real SDK clients made and what they sent. Minimal HTTP/1.1: one request per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ANTHROPIC_PATH = "/v1/messages"
OPENAI_PATH = "/v1/chat/completions"
_REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable", 529: "Overloaded"}  # fmt: skip


@dataclass(frozen=True)
class Step:
    kind: str
    winner: str = "Essay A"
    justification: str = "Essay A develops its argument with clearer evidence and structure."
    confidence: int = 4
    input_tokens: int = 1200  # every prompt token, cached ones included
    output_tokens: int = 60
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_after: str | None = None
    retry_after_ms: str | None = None


def success(**kwargs: Any) -> Step:
    return Step("success", **kwargs)


def rate_limited(
    *, retry_after: str | None = None, retry_after_ms: str | None = None, **kwargs: Any
) -> Step:
    return Step("rate_limited", retry_after=retry_after, retry_after_ms=retry_after_ms, **kwargs)


def spend_limit() -> Step:
    return Step("spend_limit")


def overloaded() -> Step:
    return Step("overloaded")


def server_error() -> Step:
    return Step("server_error")


def hang() -> Step:
    """Never answer: the client's timeout fires."""
    return Step("hang")


def malformed_body() -> Step:
    """HTTP 200 whose body is not JSON."""
    return Step("malformed")


def refusal() -> Step:
    return Step("refusal")


def truncated() -> Step:
    """Stopped at max_tokens (`stop_reason: max_tokens` / `finish_reason: length`)."""
    return Step("truncated")


def invalid_output() -> Step:
    """A 200 answer without the structured verdict (no tool call / prose instead of JSON)."""
    return Step("invalid_output")


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


def _verdict(step: Step) -> dict[str, Any]:
    return {
        "winner": step.winner,
        "justification": step.justification,
        "confidence": step.confidence,
    }


def _anthropic_usage(step: Step) -> dict[str, int]:
    uncached = step.input_tokens - step.cached_tokens - step.cache_write_tokens
    return {
        "input_tokens": uncached,
        "output_tokens": step.output_tokens,
        "cache_read_input_tokens": step.cached_tokens,
        "cache_creation_input_tokens": step.cache_write_tokens,
    }


def _anthropic(step: Step, request: Any) -> tuple[int, Any]:
    def error(status: int, error_type: str, message: str) -> tuple[int, Any]:
        return status, {"type": "error", "error": {"type": error_type, "message": message}}

    if step.kind == "rate_limited":
        return error(429, "rate_limit_error", "Number of requests has exceeded your rate limit.")
    if step.kind == "spend_limit":
        return error(
            429,
            "rate_limit_error",
            "You have reached your specified API usage limits. "
            "You will regain access on 2030-01-01 at 00:00 UTC.",
        )
    if step.kind == "overloaded":
        return error(529, "overloaded_error", "Overloaded")
    if step.kind == "server_error":
        return error(500, "api_error", "Internal server error")
    tool_name = (request or {}).get("tool_choice", {}).get("name", "record_judgement")
    tool_use = {"type": "tool_use", "id": "toolu_01", "name": tool_name, "input": _verdict(step)}
    content: list[dict[str, Any]] = [tool_use]
    stop_reason = "tool_use"
    if step.kind == "refusal":
        content, stop_reason = [], "refusal"
    elif step.kind == "truncated":
        tool_use["input"] = {"winner": step.winner}
        stop_reason = "max_tokens"
    elif step.kind == "invalid_output":
        content, stop_reason = [{"type": "text", "text": "Essay A is better."}], "end_turn"
    return 200, {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": (request or {}).get("model", "claude-haiku-4-5"),
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _anthropic_usage(step),
    }


def _openai(step: Step, request: Any) -> tuple[int, Any]:
    def error(status: int, error_type: str, code: str | None, message: str) -> tuple[int, Any]:
        body = {"message": message, "type": error_type, "param": None, "code": code}
        return status, {"error": body}

    if step.kind == "rate_limited":
        return error(429, "requests", "rate_limit_exceeded", "Rate limit reached for requests.")
    if step.kind == "spend_limit":
        return error(
            429,
            "insufficient_quota",
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details.",
        )
    if step.kind == "overloaded":
        return error(503, "server_error", None, "The engine is currently overloaded.")
    if step.kind == "server_error":
        return error(500, "server_error", None, "The server had an error.")
    message: dict[str, Any] = {
        "role": "assistant",
        "content": json.dumps(_verdict(step)),
        "refusal": None,
    }
    finish_reason = "stop"
    if step.kind == "refusal":
        message["content"], message["refusal"] = None, "I'm sorry, I can't help with that."
    elif step.kind == "truncated":
        message["content"], finish_reason = '{"winner": "Essay A", "justifi', "length"
    elif step.kind == "invalid_output":
        message["content"] = "Essay A is better."
    return 200, {
        "id": "chatcmpl-01",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": (request or {}).get("model", "gpt-4.1-mini"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": step.input_tokens,
            "completion_tokens": step.output_tokens,
            "total_tokens": step.input_tokens + step.output_tokens,
            "prompt_tokens_details": {"cached_tokens": step.cached_tokens},
        },
    }


class FakeLLMServer:
    def __init__(self) -> None:
        self._script: deque[Step] = deque()
        self.requests: list[ReceivedRequest] = []
        self._server: asyncio.Server | None = None
        self._closing = asyncio.Event()
        self._port = 0

    @property
    def url(self) -> str:
        """Base URL for the Anthropic SDK (it appends /v1/messages)."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def openai_url(self) -> str:
        """Base URL for the OpenAI SDK (it appends /chat/completions)."""
        return f"{self.url}/v1"

    def script(self, *steps: Step) -> None:
        self._script.extend(steps)

    @property
    def unused_steps(self) -> int:
        return len(self._script)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await reader.readline()
            if not request_line:
                return
            method, target, _ = request_line.decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            raw_body = await reader.readexactly(length) if length else b""
            body = json.loads(raw_body) if raw_body else None
            path = target.split("?", 1)[0]
            self.requests.append(ReceivedRequest(method, path, headers, body))
            step = self._script.popleft() if self._script else success()
            if step.kind == "hang":
                await self._wait_for_disconnect(reader)
                return
            await self._respond(writer, path, step, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _wait_for_disconnect(self, reader: asyncio.StreamReader) -> None:
        eof = asyncio.ensure_future(reader.read())
        closing = asyncio.ensure_future(self._closing.wait())
        _, pending = await asyncio.wait({eof, closing}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()

    async def _respond(
        self, writer: asyncio.StreamWriter, path: str, step: Step, request: Any
    ) -> None:
        if path == ANTHROPIC_PATH:
            status, payload = _anthropic(step, request)
        elif path == OPENAI_PATH:
            status, payload = _openai(step, request)
        else:
            status, payload = 404, {"error": {"message": f"no route {path}"}}
        data = (
            b'{"id": "msg_01", "content": ['
            if step.kind == "malformed"
            else (json.dumps(payload).encode())
        )
        extra = dict(step.headers)
        if step.retry_after is not None:
            extra["retry-after"] = step.retry_after
        if step.retry_after_ms is not None:
            extra["retry-after-ms"] = step.retry_after_ms
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
            "content-type: application/json",
            f"content-length: {len(data)}",
            "connection: close",
            *(f"{name}: {value}" for name, value in extra.items()),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
        await writer.drain()
