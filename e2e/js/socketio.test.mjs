// socket.io-client 4.8, the Socket.IO client of browsers and Node, against
// a running wsgate. Run by e2e/socketio_test.go (TestSocketIONode), which
// starts the gateway (routes join, leave and say; API keys) and the NATS
// workers:
//
//   sio._.add              replies with the sum of the arguments
//   sio._.ask-me           emits "question" to the asking connection over the
//                          connection API and replies with the client's ack
//   sio._.vip              joins the connection to room vip over the connection
//                          API, replies "joined", then publishes "vip.news" to it
//   sio.shop.order.create  replies {"ok":true,"sku":...,"namespace":...}
//   sio._.echo, echo-bin   reply with the request's body
//
// and a JSON-protocol client that echoes every "chat" emit into room lobby
// as {"echo": <the emit's argument>}.
//
// Env: WSGATE_HTTP (http://host:port), SIO_KEY (an API key with the
// permissions), SIO_BAD_KEY (one the gateway refuses), SIO_TRANSPORTS
// (comma-separated, the client's transports option: websocket, polling,
// or polling,websocket, the client's default, polling then the upgrade).
import { test } from "node:test";
import assert from "node:assert/strict";
import { io, Manager } from "socket.io-client";

const url = process.env.WSGATE_HTTP;
if (!url) throw new Error("WSGATE_HTTP is not set");
const key = process.env.SIO_KEY;
const transports = (process.env.SIO_TRANSPORTS || "websocket").split(",");
const opts = { transports, reconnection: false, forceNew: true };

// connect opens a socket on a namespace and waits for its CONNECT.
function connect(nsp = "/", token = key, extra = {}) {
  const s = io(url + nsp, { ...opts, auth: { token }, ...extra });
  return new Promise((resolve, reject) => {
    s.once("connect", () => resolve(s));
    s.once("connect_error", (e) => { s.close(); reject(e); });
  });
}

// once resolves with the arguments of the next event, within ms.
function once(s, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    s.once(event, (...args) => { clearTimeout(t); resolve(args); });
  });
}

test("events and acknowledgements both ways", async () => {
  const s = await connect();
  try {
    // The client's default starts polling and upgrades to a WebSocket;
    // behind a balancer without sticky sessions (SIO_UPGRADE_OPTIONAL)
    // the probe may reach another gateway than the session's, be refused,
    // and the client polls on.
    if (process.env.SIO_UPGRADE_OPTIONAL !== "1") {
      if (transports.length > 1 && s.io.engine.transport.name !== "websocket") {
        await new Promise((resolve) => s.io.engine.once("upgrade", resolve));
      }
      assert.equal(s.io.engine.transport.name, transports[transports.length - 1]);
    }
    assert.deepEqual(await s.timeout(5000).emitWithAck("add", 2, 3), 5);
    // The worker asks the client, the client's ack is the worker's reply,
    // which the worker makes the ack of the client's emit.
    s.on("question", (q, cb) => cb({ answer: 42, q }));
    assert.deepEqual(await s.timeout(5000).emitWithAck("ask-me"), { answer: 42, q: "why?" });
    // Nobody listens: the ack carries the gateway's error.
    const err = await s.timeout(5000).emitWithAck("nobody.listens");
    assert.equal(err.error, "no_responders");
  } finally {
    s.close();
  }
});

test("rooms via route", async () => {
  const a = await connect(), b = await connect();
  try {
    assert.deepEqual(await a.timeout(5000).emitWithAck("join", "lobby.1"), undefined);
    await b.timeout(5000).emitWithAck("join", "lobby.1");
    let echoed = false;
    a.on("say", () => { echoed = true; });
    const got = once(b, "say");
    a.emit("say", "lobby.1", "hello");
    assert.deepEqual(await got, ["lobby.1", "hello"]);
    // All in the room except the sender.
    await a.timeout(5000).emitWithAck("add", 0, 0); // a round trip later
    assert.equal(echoed, false);
    await b.timeout(5000).emitWithAck("leave", "lobby.1");
    const again = once(a, "say");
    b.emit("say", "lobby.1", "bye");
    assert.deepEqual(await again, ["lobby.1", "bye"]);
  } finally {
    a.close(); b.close();
  }
});

test("rooms via worker", async () => {
  const s = await connect();
  try {
    const news = once(s, "vip.news");
    assert.equal(await s.timeout(5000).emitWithAck("vip"), "joined");
    assert.deepEqual(await news, [{ text: "for vips" }]);
  } finally {
    s.close();
  }
});

test("namespaces on one connection", async () => {
  const m = new Manager(url, { transports, reconnection: false });
  const main = m.socket("/", { auth: { token: key } });
  const shop = m.socket("/shop", { auth: { token: key } });
  try {
    await Promise.all([once(main, "connect"), once(shop, "connect")]);
    const r = await shop.timeout(5000).emitWithAck("order.create", { sku: "A1" });
    assert.deepEqual(r, { ok: true, sku: "A1", namespace: "/shop" });
    assert.deepEqual(await main.timeout(5000).emitWithAck("add", 1, 1), 2);
  } finally {
    main.close(); shop.close();
  }
});

test("authentication refused", async () => {
  await assert.rejects(connect("/", process.env.SIO_BAD_KEY), { message: "unauthorized" });
  await assert.rejects(connect("/", ""), { message: "unauthorized" });
});

test("binary both ways", async () => {
  const s = await connect();
  try {
    const bytes = Buffer.from([0, 1, 2, 255]);
    const back = await s.timeout(5000).emitWithAck("echo-bin", bytes);
    assert.ok(Buffer.isBuffer(back), "a Buffer comes back");
    assert.deepEqual([...back], [...bytes]);
    // Nested in JSON, an attachment reaches NATS as base64.
    assert.deepEqual(await s.timeout(5000).emitWithAck("echo", { file: Buffer.from("hi") }), { file: "aGk=" });
  } finally {
    s.close();
  }
});

test("cross-protocol: a JSON client hears an emit and answers in a room", async () => {
  const s = await connect();
  try {
    await s.timeout(5000).emitWithAck("join", "lobby");
    const echo = once(s, "message");
    s.emit("chat", { text: "hi" });
    assert.deepEqual(await echo, [{ echo: { text: "hi" } }]);
  } finally {
    s.close();
  }
});
