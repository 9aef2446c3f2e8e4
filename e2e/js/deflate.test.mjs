// permessage-deflate with the ws package (what Node clients use; it offers
// "permessage-deflate; client_max_window_bits" and, unless told otherwise,
// keeps its compression window from message to message). Run by
// e2e/deflate_test.go (TestDeflateNode), which starts the gateway.
//
// Env: WSGATE_URL, the gateway's JSON WebSocket URL; WSGATE_CONTEXT, "1"
// when the gateway lets clients take over their window (compression: on).
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";

const url = process.env.WSGATE_URL;
if (!url) throw new Error("WSGATE_URL is not set");
const context = process.env.WSGATE_CONTEXT === "1";

function open() {
  // threshold 0: every message the client sends is compressed.
  const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 } });
  const queue = [];
  const waiting = [];
  let answer = "";
  ws.on("upgrade", (res) => { answer = res.headers["sec-websocket-extensions"] ?? ""; });
  ws.on("message", (data) => {
    const m = JSON.parse(data.toString());
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const next = (ms = 5000) => new Promise((resolve, reject) => {
    if (queue.length) return resolve(queue.shift());
    const t = setTimeout(() => reject(new Error("no message")), ms);
    waiting.push((m) => { clearTimeout(t); resolve(m); });
  });
  return new Promise((resolve, reject) => {
    ws.on("open", () => resolve({ ws, next, answer: () => answer }));
    ws.on("error", reject);
  });
}

function record(i) {
  return { id: i, symbol: "SYM" + (i % 17), price: 100 + (i * 7) % 91 + 0.25, volume: 1000 + i * 13, side: i % 2 ? "buy" : "sell" };
}

test("compressed both ways, with the negotiated context", async () => {
  const { ws, next, answer } = await open();
  try {
    const ext = answer();
    assert.equal(ws.extensions, "permessage-deflate", "permessage-deflate negotiated");
    assert.match(ext, /^permessage-deflate; server_no_context_takeover/);
    assert.equal(/client_no_context_takeover/.test(ext), !context, `extensions ${ext}`);

    ws.send(JSON.stringify({ action: "subscribe", subject: "deflate.node" }));
    assert.equal((await next()).type, "subscribed");
    // Messages that repeat each other: with context takeover the client
    // refers back into earlier ones, which the gateway must remember.
    const read0 = ws._socket.bytesRead;
    let sent = 0;
    for (let n = 0; n < 5; n++) {
      const data = Array.from({ length: 30 + n }, (_, i) => record(i));
      const text = JSON.stringify({ action: "publish", subject: "deflate.node", data });
      sent += text.length;
      ws.send(text);
      const m = await next();
      assert.equal(m.type, "message");
      assert.equal(m.subject, "deflate.node");
      assert.deepEqual(m.data, data);
    }
    const read = ws._socket.bytesRead - read0;
    assert.ok(read < sent / 2, `read ${read} bytes for ${sent} bytes of messages: not compressed`);
  } finally {
    ws.close(1000);
  }
});

test("a message inflating past max_message_bytes closes with 1009", async () => {
  const { ws } = await open();
  const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  const timer = setTimeout(() => ws.terminate(), 10000);
  ws.send(JSON.stringify({ action: "publish", subject: "deflate.big", data: "x".repeat(2 << 20) }));
  const code = await closed;
  clearTimeout(timer);
  assert.equal(code, 1009);
});
