// @stomp/stompjs (what browsers use) against a running wsgate, over the ws
// package. Run by e2e/stomp_test.go (TestSTOMPNode), which starts the
// gateway and a NATS worker answering requests on js.echo with "echo:"+body.
//
// Env: WSGATE_URL, the gateway's STOMP WebSocket URL (ws://host:port/stomp).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@stomp/stompjs";
import WebSocket from "ws";

const url = process.env.WSGATE_URL;
if (!url) throw new Error("WSGATE_URL is not set");

// connect resolves with an active client.
function connect(extra = {}) {
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: () => new WebSocket(url, ["v12.stomp", "v11.stomp", "v10.stomp"]),
      reconnectDelay: 0,
      heartbeatIncoming: 1000,
      heartbeatOutgoing: 1000,
      ...extra,
    });
    client.onConnect = (frame) => resolve({ client, frame });
    client.onStompError = (frame) => reject(new Error(`ERROR ${frame.headers.message}: ${frame.body}`));
    client.onWebSocketError = (e) => reject(new Error(`WebSocket error: ${e.message ?? e}`));
    client.activate();
  });
}

// next resolves with the next message a subscription gets.
function subscribeQueue(client, destination, headers = {}) {
  const waiting = [];
  const got = [];
  const sub = client.subscribe(destination, (m) => {
    const w = waiting.shift();
    if (w) w(m);
    else got.push(m);
  }, headers);
  return {
    sub,
    next: (ms = 5000) => new Promise((resolve, reject) => {
      if (got.length) return resolve(got.shift());
      const t = setTimeout(() => reject(new Error(`no message on ${destination}`)), ms);
      waiting.push((m) => { clearTimeout(t); resolve(m); });
    }),
  };
}

// receipt sends a frame with a receipt and resolves when it comes back.
function withReceipt(client, send) {
  const id = `r-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no RECEIPT ${id}`)), 5000);
    client.watchForReceipt(id, () => { clearTimeout(t); resolve(); });
    send(id);
  });
}

test("connect negotiates STOMP 1.2", async () => {
  const { client, frame } = await connect();
  try {
    assert.equal(frame.headers.version, "1.2");
    assert.match(frame.headers.server, /^wsgate\//);
    assert.ok(frame.headers.session);
  } finally {
    await client.deactivate();
  }
});

test("subscribe, send and receive on a topic", async () => {
  const { client } = await connect();
  try {
    const q = subscribeQueue(client, "/topic/js.chat.>");
    // The SUBSCRIBE is processed before a later SEND with a receipt.
    await withReceipt(client, (receipt) =>
      client.publish({ destination: "/topic/js.barrier", body: "", headers: { receipt } }));
    client.publish({
      destination: "/topic/js.chat.room1",
      body: JSON.stringify({ text: "héllo" }),
      headers: { "content-type": "application/json", "x-app": "node" },
    });
    const m = await q.next();
    assert.equal(m.headers.destination, "/topic/js.chat.room1");
    assert.equal(m.headers["content-type"], "application/json");
    assert.equal(m.headers["x-app"], "node");
    assert.deepEqual(JSON.parse(m.body), { text: "héllo" });
  } finally {
    await client.deactivate();
  }
});

test("binary body with NUL bytes", async () => {
  const { client } = await connect();
  try {
    const q = subscribeQueue(client, "/topic/js.bin");
    await withReceipt(client, (receipt) =>
      client.publish({ destination: "/topic/js.barrier", body: "", headers: { receipt } }));
    const bytes = new Uint8Array([0, 1, 2, 0, 255]);
    client.publish({ destination: "/topic/js.bin", binaryBody: bytes });
    const m = await q.next();
    assert.deepEqual([...m.binaryBody], [...bytes]);
  } finally {
    await client.deactivate();
  }
});

test("request-reply through a temp-queue", async () => {
  const { client } = await connect();
  try {
    const q = subscribeQueue(client, "/temp-queue/js-replies");
    client.publish({ destination: "js.echo", body: "ping", headers: { "reply-to": "/temp-queue/js-replies" } });
    const m = await q.next();
    assert.equal(m.body, "echo:ping");
    assert.equal(m.headers.destination, "/temp-queue/js-replies");
  } finally {
    await client.deactivate();
  }
});

test("an invalid destination is an ERROR", async () => {
  const { client } = await connect();
  const err = new Promise((resolve) => { client.onStompError = resolve; });
  client.publish({ destination: "/topic/no spaces", body: "x" });
  const frame = await err;
  assert.equal(frame.headers.message, "invalid destination");
  await client.deactivate();
});
