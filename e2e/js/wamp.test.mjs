// Autobahn|JS and Wampy.js, the WAMP clients browsers and Node use, against
// a running wsgate, over JSON and MessagePack (and CBOR for Autobahn). Run
// by e2e/wamp_node_test.go (TestWAMPNode), which starts the gateway and NATS
// workers:
//
//   js.wamp.add    replies with the sum of the arguments array
//   js.wamp.echo   replies with the request's body
//   js.wamp.fail   replies with Wamp-Error: com.example.error.failed, body {"args":["nope"],"kwargs":{"code":7}}
//   js.wamp.slow   never replies
//   js.wamp.count  with Wamp-Receive-Progress, replies 1, 2 (Wamp-Progress: 1), then "done"
//
// Env: WSGATE_URL, the gateway's WebSocket URL (ws://host:port/).
import { test } from "node:test";
import assert from "node:assert/strict";
import autobahn from "autobahn";
import { Wampy } from "wampy";
import { MsgpackSerializer } from "wampy/MsgpackSerializer.js";
import { JsonSerializer } from "wampy/JsonSerializer.js";
import WebSocket from "ws";

const url = process.env.WSGATE_URL;
if (!url) throw new Error("WSGATE_URL is not set");

const serializers = {
  json: { autobahn: () => new autobahn.serializer.JSONSerializer(), wampy: () => new JsonSerializer() },
  msgpack: { autobahn: () => new autobahn.serializer.MsgpackSerializer(), wampy: () => new MsgpackSerializer() },
  cbor: { autobahn: () => new autobahn.serializer.CBORSerializer() },
};

// ab opens an Autobahn session.
function ab(ser, extra = {}) {
  return new Promise((resolve, reject) => {
    const conn = new autobahn.Connection({
      url, realm: "realm1", max_retries: 0, serializers: [serializers[ser].autobahn()], ...extra,
    });
    conn.onopen = (session) => resolve({ conn, session });
    conn.onclose = (reason, details) => { reject(new Error(`closed: ${reason} ${JSON.stringify(details)}`)); return true; };
    conn.open();
  });
}

// wy opens a Wampy session.
async function wy(ser) {
  const w = new Wampy(url, { realm: "realm1", ws: WebSocket, autoReconnect: false, serializer: serializers[ser].wampy() });
  await w.connect();
  return w;
}

// queue collects callback values; next() resolves with the next one.
function queue() {
  const got = [], waiting = [];
  return {
    push: (v) => { const w = waiting.shift(); if (w) w(v); else got.push(v); },
    next: (ms = 5000) => new Promise((resolve, reject) => {
      if (got.length) return resolve(got.shift());
      const t = setTimeout(() => reject(new Error("nothing within " + ms + " ms")), ms);
      waiting.push((v) => { clearTimeout(t); resolve(v); });
    }),
    size: () => got.length,
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const ser of ["json", "msgpack", "cbor"]) {
  test(`autobahn ${ser}: pub/sub with match policies, exclusion and acknowledgements`, async () => {
    const a = await ab(ser), b = await ab(ser);
    try {
      const exact = queue(), prefix = queue(), wild = queue();
      await b.session.subscribe(`js.${ser}.chat`, (args, kwargs, details) => exact.push({ args, kwargs, details }));
      await b.session.subscribe(`js.${ser}.news`, (args, kwargs, details) => prefix.push({ args, details }), { match: "prefix" });
      await b.session.subscribe(`js.${ser}..temp`, (args, kwargs, details) => wild.push({ args, details }), { match: "wildcard" });
      const mine = queue();
      await a.session.subscribe(`js.${ser}.chat`, (args) => mine.push(args));

      const pub = await a.session.publish(`js.${ser}.chat`, ["hi", 1], { from: "a" }, { acknowledge: true, disclose_me: true });
      assert.ok(pub.id > 0);
      const e = await exact.next();
      assert.deepEqual(e.args, ["hi", 1]);
      assert.deepEqual(e.kwargs, { from: "a" });
      assert.equal(e.details.publication, pub.id);
      assert.equal(e.details.publisher, a.session.id);

      await a.session.publish(`js.${ser}.news.world`, ["w"], {}, { acknowledge: true });
      const p = await prefix.next();
      assert.deepEqual(p.args, ["w"]);
      assert.equal(p.details.topic, `js.${ser}.news.world`);
      await a.session.publish(`js.${ser}.kitchen.temp`, [21.5], {}, { acknowledge: true });
      const w = await wild.next();
      assert.deepEqual(w.args, [21.5]);
      assert.equal(w.details.topic, `js.${ser}.kitchen.temp`);

      // The publisher is excluded unless it says otherwise.
      await a.session.publish(`js.${ser}.chat`, ["me too"], {}, { acknowledge: true, exclude_me: false });
      assert.deepEqual(await mine.next(), ["me too"]);
      assert.deepEqual((await exact.next()).args, ["me too"]);
      assert.equal(mine.size(), 0, "the publisher got its own earlier event");

      // An invalid URI and a reserved subject are refused with the spec's errors.
      await assert.rejects(a.session.publish("js.bad uri", [], {}, { acknowledge: true }), (err) => err.error === "wamp.error.invalid_uri");
      await assert.rejects(a.session.subscribe("wsgate.events.connect", () => {}), (err) => err.error === "wamp.error.not_authorized");
    } finally {
      a.conn.close(); b.conn.close();
    }
  });

  test(`autobahn ${ser}: calls to NATS workers`, async () => {
    const { conn, session } = await ab(ser);
    try {
      assert.equal(await session.call("js.wamp.add", [2, 3, 4]), 9);
      const echoed = await session.call("js.wamp.echo", [1, "a"], { k: true });
      assert.deepEqual(echoed.args, [1, "a"]);
      assert.deepEqual(echoed.kwargs, { k: true });
      await assert.rejects(session.call("js.wamp.fail", []), (err) => {
        assert.equal(err.error, "com.example.error.failed");
        assert.deepEqual(err.args, ["nope"]);
        assert.deepEqual(err.kwargs, { code: 7 });
        return true;
      });
      await assert.rejects(session.call("js.wamp.nobody", []), (err) => err.error === "wamp.error.no_such_procedure");
      await assert.rejects(session.call("js.wamp.slow", [], {}, { timeout: 200 }), (err) => err.error === "wamp.error.timeout");
      await assert.rejects(session.call("wsgate.conn.x.info", []), (err) => err.error === "wamp.error.not_authorized");

      // Progressive results from a worker replying several times.
      const progress = [];
      const final = await session.call("js.wamp.count", [], {}, { receive_progress: true }).then((r) => r, null, (p) => progress.push(p));
      assert.deepEqual(progress, [1, 2]);
      assert.equal(final, "done");

      // Cancel (mode kill: Autobahn keeps the call open for the router's answer).
      const slow = session.call("js.wamp.slow", [], {}, {});
      setTimeout(() => slow.cancel({ mode: "kill" }), 50);
      await assert.rejects(slow, (err) => err.error === "wamp.error.canceled");
      if (ser !== "json") {
        const bin = new Uint8Array([0, 1, 2, 255]);
        const r = await session.call("js.wamp.echo", [bin]);
        assert.deepEqual(new Uint8Array(r), bin);
      }
    } finally {
      conn.close();
    }
  });
}

for (const ser of ["json", "msgpack"]) {
  test(`wampy ${ser} calls an autobahn callee, with progressive results; autobahn calls a wampy callee`, async () => {
    const { conn, session } = await ab(ser);
    const w = await wy(ser);
    try {
      const proc = `js.${ser}.progress`;
      await session.register(proc, (args, kwargs, details) => {
        if (details.progress) {
          details.progress([args[0] + 1]);
          details.progress([args[0] + 2]);
        }
        return new autobahn.Result([args[0] + 3], { caller: details.caller ?? null });
      });
      const progress = [];
      const r = await w.call(proc, [10], { receive_progress: true, disclose_me: true, progress_callback: (p) => progress.push(p.argsList[0]) });
      assert.deepEqual(progress, [11, 12]);
      assert.deepEqual(r.argsList, [13]);
      assert.equal(r.argsDict.caller, w.getSessionId());

      // A single registration is exclusive; shared ones are not.
      await assert.rejects(w.register(proc, () => ({ argsList: [] })), (err) => /procedure_already_exists/.test(String(err.error ?? err.errorUri ?? err.message)));
      await w.register(`js.${ser}.upper`, (inv) => ({ argsList: [String(inv.argsList[0]).toUpperCase()] }));
      assert.equal(await session.call(`js.${ser}.upper`, ["shout"]), "SHOUT");

      // Wampy pub/sub to autobahn.
      const got = queue();
      await session.subscribe(`js.${ser}.wampy`, (args, kwargs) => got.push({ args, kwargs }));
      await w.publish(`js.${ser}.wampy`, { argsList: [1, 2], argsDict: { x: "y" } });
      const e = await got.next();
      assert.deepEqual(e.args, [1, 2]);
      assert.deepEqual(e.kwargs, { x: "y" });
    } finally {
      await w.disconnect();
      conn.close();
      await sleep(10);
    }
  });
}

test("autobahn: session meta API", async () => {
  const a = await ab("json");
  let b;
  try {
    const joins = queue(), leaves = queue();
    await a.session.subscribe("wamp.session.on_join", (args) => joins.push(args[0]));
    await a.session.subscribe("wamp.session.on_leave", (args) => leaves.push(args));
    b = await ab("msgpack");
    const bid = b.session.id;
    let j;
    do { j = await joins.next(); } while (j.session !== bid);
    assert.equal(j.authrole, "anonymous");
    assert.equal(j.transport.serializer, "wamp.2.msgpack");

    assert.ok(await a.session.call("wamp.session.count") >= 2);
    const ids = await a.session.call("wamp.session.list");
    assert.ok(ids.includes(bid) && ids.includes(a.session.id), `list ${ids}`);
    const d = await a.session.call("wamp.session.get", [bid]);
    assert.equal(d.session, bid);
    assert.equal(d.authid, "anonymous");
    await assert.rejects(a.session.call("wamp.session.get", [1]), (err) => err.error === "wamp.error.no_such_session");

    b.conn.close();
    b = null;
    let l;
    do { l = await leaves.next(); } while (l[0] !== bid);
    assert.deepEqual(l, [bid, "anonymous", "anonymous"]);
  } finally {
    a.conn.close();
    if (b) b.conn.close();
    await sleep(10);
  }
});
