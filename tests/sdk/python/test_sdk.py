"""The official OpenAI Python SDK against the running gateway (and its mock
upstream). Each check prints its name; any failure exits non-zero.

Run by tests/sdk.rs (cargo test), which starts the gateway and sets:
GATEWAY_URL, SDK_KEY (a tenant), LIMITED_KEY (a tenant allowed 1 request a
minute). Setup: bash scripts/sdk-setup.sh (pins openai==3.57.0).
"""

import asyncio
import base64
import os
import struct
import sys
import time
import uuid

import openai
from openai import AsyncOpenAI, OpenAI

BASE = os.environ["GATEWAY_URL"] + "/v1"
KEY = os.environ["SDK_KEY"]
client = OpenAI(base_url=BASE, api_key=KEY, max_retries=0)
aclient = AsyncOpenAI(base_url=BASE, api_key=KEY, max_retries=0)
MODEL = "mock-model"
failures = []


def check(name):
    def run(fn):
        try:
            fn()
            print(f"ok   python: {name}")
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failures.append(name)
            print(f"FAIL python: {name}: {type(e).__name__}: {e}")
        return fn

    return run


def unique(text):
    return f"{text} {uuid.uuid4().hex[:8]}"


def ask(text):
    return [{"role": "user", "content": text}]


@check("chat completion, JSON, with usage")
def _():
    q = unique("py hello")
    r = client.chat.completions.create(model=MODEL, messages=ask(q))
    assert r.choices[0].message.content == f"Mock answer to: {q}", r
    assert r.usage.total_tokens > 0


@check("chat completion stream with the usage chunk")
def _():
    q = unique("py stream")
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=ask(q), stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"Mock answer to: {q}", text
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


@check("a stream without include_usage shows no usage; its JSON hit carries usage")
def _():
    q = unique("py cross")
    chunks = list(client.chat.completions.create(model=MODEL, messages=ask(q), stream=True))
    assert all(c.usage is None for c in chunks), "usage chunk leaked"
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=ask(q))
    assert raw.headers["x-gateway-cache"] == "hit-l1", raw.headers
    assert int(raw.headers["x-gateway-tokens-saved"]) > 0
    r = raw.parse()
    assert r.usage.total_tokens > 0
    again = list(
        client.chat.completions.create(
            model=MODEL, messages=ask(q), stream=True, stream_options={"include_usage": True}
        )
    )
    assert again[-1].usage is not None and again[-1].usage.total_tokens == r.usage.total_tokens


@check("coalesced streams: the second client's first chunk arrives before the first stream ends")
def _():
    q = unique("py coalesced one two three four five six seven eight")
    events = []

    async def consume(name, started=None):
        stream = await aclient.chat.completions.create(model=MODEL, messages=ask(q), stream=True)
        first = True
        async for _chunk in stream:
            if first:
                events.append(f"{name} first")
                first = False
                if started is not None:
                    started.set()
        events.append(f"{name} end")

    async def main():
        started = asyncio.Event()
        leader = asyncio.create_task(consume("leader", started))
        await started.wait()
        await consume("follower")
        await leader

    asyncio.run(main())
    assert events.index("follower first") < events.index("leader end"), events


@check("responses API: JSON, stream, and a cached replay of the stream")
def _():
    q = unique("py responses")
    r = client.responses.create(model=MODEL, input=q)
    assert r.output_text == f"Mock answer to: {q}", r
    assert r.usage.total_tokens > 0
    q2 = unique("py responses stream")
    first = [e.type for e in client.responses.create(model=MODEL, input=q2, stream=True)]
    assert first[-1] == "response.completed", first
    raw = client.responses.with_raw_response.create(model=MODEL, input=q2, stream=True)
    assert raw.headers["x-gateway-cache"] == "hit-l1", raw.headers
    replay = [e.type for e in raw.parse()]
    assert replay == first, (replay, first)


@check("models.retrieve")
def _():
    m = client.models.retrieve(MODEL)
    assert m.id == MODEL
    assert any(m.id == MODEL for m in client.models.list())


@check("embeddings, float and base64")
def _():
    f = client.embeddings.create(model="mock-embedding", input="hi", encoding_format="float")
    b = client.embeddings.create(model="mock-embedding", input="hi", encoding_format="base64")
    vf = f.data[0].embedding
    vb = b.data[0].embedding
    if isinstance(vb, str):
        raw = base64.b64decode(vb)
        vb = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    assert len(vf) == 384 and len(vb) == 384
    assert max(abs(x - y) for x, y in zip(vf, vb)) < 1e-6


@check("tools: a tool call comes back")
def _():
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]
    r = client.chat.completions.create(model=MODEL, messages=ask(unique("weather?")), tools=tools)
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert r.choices[0].finish_reason == "tool_calls"


@check("n choices and JSON mode")
def _():
    r = client.chat.completions.create(model=MODEL, messages=ask(unique("two")), n=2)
    assert len(r.choices) == 2
    r = client.chat.completions.create(
        model=MODEL, messages=ask(unique("json")), response_format={"type": "json_object"}
    )
    assert r.choices[0].message.content.startswith("{")


@check("errors map to the SDK's classes")
def _():
    bad = OpenAI(base_url=BASE, api_key="not-a-key", max_retries=0)
    try:
        bad.chat.completions.create(model=MODEL, messages=ask("x"))
        raise AssertionError("no error")
    except openai.AuthenticationError:
        pass
    try:
        client.chat.completions.create(model=MODEL, messages="not a list")
        raise AssertionError("no error")
    except openai.BadRequestError as e:
        assert e.body["param"] == "messages", e.body
    limited = OpenAI(base_url=BASE, api_key=os.environ["LIMITED_KEY"], max_retries=0)
    try:
        for _ in range(3):
            limited.chat.completions.create(model=MODEL, messages=ask(unique("limited")))
        raise AssertionError("no rate limit")
    except openai.RateLimitError:
        pass


@check("a stream cut by the upstream raises an APIError")
def _():
    stream = client.chat.completions.create(
        model=MODEL,
        messages=ask(unique("cut")),
        stream=True,
        extra_headers={"x-mock-fault": "cut:3"},
    )
    try:
        for _ in stream:
            pass
        raise AssertionError("the cut stream ended cleanly")
    except openai.APIError:
        pass


if failures:
    print(f"{len(failures)} python SDK check(s) failed: {failures}")
    sys.exit(1)
print("python SDK: all checks passed")
