// The official OpenAI Node SDK against the running gateway (and its mock
// upstream). Each check prints its name; any failure exits non-zero.
// Run by tests/sdk.rs; setup: bash scripts/sdk-setup.sh (pins openai 6.49.0).

import OpenAI from "openai";
import { randomUUID } from "node:crypto";

const BASE = `${process.env.GATEWAY_URL}/v1`;
const client = new OpenAI({ baseURL: BASE, apiKey: process.env.SDK_KEY, maxRetries: 0 });
const MODEL = "mock-model";
const failures = [];

const unique = (text) => `${text} ${randomUUID().slice(0, 8)}`;
const ask = (text) => [{ role: "user", content: text }];
const assert = (ok, message) => {
  if (!ok) throw new Error(message ?? "assertion failed");
};

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   node: ${name}`);
  } catch (e) {
    failures.push(name);
    console.log(`FAIL node: ${name}: ${e?.constructor?.name}: ${e?.message}`);
  }
}

async function collect(stream) {
  const out = [];
  for await (const item of stream) out.push(item);
  return out;
}

await check("chat completion, JSON, with usage", async () => {
  const q = unique("node hello");
  const r = await client.chat.completions.create({ model: MODEL, messages: ask(q) });
  assert(r.choices[0].message.content === `Mock answer to: ${q}`, JSON.stringify(r));
  assert(r.usage.total_tokens > 0);
});

await check("chat completion stream with the usage chunk", async () => {
  const q = unique("node stream");
  const chunks = await collect(
    await client.chat.completions.create({
      model: MODEL, messages: ask(q), stream: true, stream_options: { include_usage: true },
    }),
  );
  const text = chunks.filter((c) => c.choices.length).map((c) => c.choices[0].delta.content ?? "").join("");
  assert(text === `Mock answer to: ${q}`, text);
  assert(chunks.at(-1).usage?.total_tokens > 0, "no usage chunk");
});

await check("a stream without include_usage shows no usage; its JSON hit carries usage", async () => {
  const q = unique("node cross");
  const chunks = await collect(await client.chat.completions.create({ model: MODEL, messages: ask(q), stream: true }));
  assert(chunks.every((c) => !c.usage), "usage chunk leaked");
  const { data, response } = await client.chat.completions.create({ model: MODEL, messages: ask(q) }).withResponse();
  assert(response.headers.get("x-gateway-cache") === "hit-l1", response.headers.get("x-gateway-cache"));
  assert(Number(response.headers.get("x-gateway-tokens-saved")) > 0);
  assert(data.usage.total_tokens > 0);
});

await check("coalesced streams: the second client's first chunk arrives before the first stream ends", async () => {
  const q = unique("node coalesced one two three four five six seven eight");
  const events = [];
  let started;
  const ready = new Promise((resolve) => (started = resolve));
  const consume = async (name, onFirst) => {
    const stream = await client.chat.completions.create({ model: MODEL, messages: ask(q), stream: true });
    let first = true;
    for await (const _ of stream) {
      if (first) {
        events.push(`${name} first`);
        first = false;
        onFirst?.();
      }
    }
    events.push(`${name} end`);
  };
  const leader = consume("leader", started);
  await ready;
  await consume("follower");
  await leader;
  assert(events.indexOf("follower first") < events.indexOf("leader end"), events.join(", "));
});

await check("responses API: JSON, stream, and a cached replay of the stream", async () => {
  const q = unique("node responses");
  const r = await client.responses.create({ model: MODEL, input: q });
  assert(r.output_text === `Mock answer to: ${q}`, JSON.stringify(r));
  const q2 = unique("node responses stream");
  const first = (await collect(await client.responses.create({ model: MODEL, input: q2, stream: true }))).map((e) => e.type);
  assert(first.at(-1) === "response.completed", first.join(","));
  const { data, response } = await client.responses.create({ model: MODEL, input: q2, stream: true }).withResponse();
  assert(response.headers.get("x-gateway-cache") === "hit-l1", response.headers.get("x-gateway-cache"));
  const replay = (await collect(data)).map((e) => e.type);
  assert(JSON.stringify(replay) === JSON.stringify(first), `${replay} vs ${first}`);
});

await check("models.retrieve", async () => {
  const m = await client.models.retrieve(MODEL);
  assert(m.id === MODEL);
});

await check("embeddings: the SDK's base64 default and float", async () => {
  const b = await client.embeddings.create({ model: "mock-embedding", input: "hi" });
  const f = await client.embeddings.create({ model: "mock-embedding", input: "hi", encoding_format: "float" });
  const vb = b.data[0].embedding;
  const vf = f.data[0].embedding;
  assert(vb.length === 384 && vf.length === 384, `${vb.length} ${vf.length}`);
  assert(vb.every((x, i) => Math.abs(x - vf[i]) < 1e-6), "base64 decoded to other numbers");
});

await check("tools: a tool call comes back", async () => {
  const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: {} } } }];
  const r = await client.chat.completions.create({ model: MODEL, messages: ask(unique("weather?")), tools });
  assert(r.choices[0].message.tool_calls[0].function.name === "get_weather");
});

await check("errors map to the SDK's classes", async () => {
  const bad = new OpenAI({ baseURL: BASE, apiKey: "not-a-key", maxRetries: 0 });
  const expect = async (promise, cls) => {
    try {
      await promise;
    } catch (e) {
      assert(e instanceof cls, `${e?.constructor?.name} is not ${cls.name}`);
      return e;
    }
    throw new Error(`no ${cls.name}`);
  };
  await expect(bad.chat.completions.create({ model: MODEL, messages: ask("x") }), OpenAI.AuthenticationError);
  const e = await expect(client.chat.completions.create({ model: MODEL, messages: "not a list" }), OpenAI.BadRequestError);
  assert(e.param === "messages", e.param);
  const limited = new OpenAI({ baseURL: BASE, apiKey: process.env.LIMITED_KEY, maxRetries: 0 });
  await expect(
    (async () => {
      for (let i = 0; i < 3; i++) await limited.chat.completions.create({ model: MODEL, messages: ask(unique("limited")) });
    })(),
    OpenAI.RateLimitError,
  );
});

await check("a stream cut by the upstream raises an APIError", async () => {
  const stream = await client.chat.completions.create(
    { model: MODEL, messages: ask(unique("cut")), stream: true },
    { headers: { "x-mock-fault": "cut:3" } },
  );
  try {
    for await (const _ of stream);
  } catch (e) {
    assert(e instanceof OpenAI.APIError, `${e?.constructor?.name} is not APIError`);
    return;
  }
  throw new Error("the cut stream ended cleanly");
});

if (failures.length) {
  console.log(`${failures.length} node SDK check(s) failed: ${failures.join("; ")}`);
  process.exit(1);
}
console.log("node SDK: all checks passed");
