// mqtt.js v5 (what browsers use) against a running wsgate, MQTT 3.1.1
// (protocolVersion 4) and 5. Run by e2e/mqtt_test.go (TestMQTTNode), which
// starts the gateway and a NATS worker answering requests on js.mqtt.echo
// with "echo:"+payload and forwarding js.mqtt.in.<x> to js.mqtt.out.<x>.
//
// Env: WSGATE_URL, the gateway's base WebSocket URL (ws://host:port).
import { test } from "node:test";
import assert from "node:assert/strict";
import mqtt from "mqtt";

const base = process.env.WSGATE_URL;
if (!base) throw new Error("WSGATE_URL is not set");

function connect(protocolVersion, opts = {}) {
  return new Promise((resolve, reject) => {
    // mqtt.js offers exactly one subprotocol, "mqtt", on the path it is given.
    // v4 uses path "/" (mqtt.js's default), v5 "/mqtt".
    const path = protocolVersion === 4 ? "/" : "/mqtt";
    const c = mqtt.connect(base + path, { protocolVersion, reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    c.once("connect", (ack) => resolve({ c, ack }));
    c.once("error", reject);
  });
}

function nextMessage(c) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no message within 5s")), 5000);
    c.once("message", (topic, payload, packet) => {
      clearTimeout(t);
      resolve({ topic, payload: payload.toString(), packet });
    });
  });
}

for (const v of [4, 5]) {
  test(`v${v}: publish QoS 1 round trip through a NATS worker`, async () => {
    const { c } = await connect(v);
    try {
      await c.subscribeAsync(`js/mqtt/out/#`, { qos: 1 });
      const got = nextMessage(c);
      await c.publishAsync(`js/mqtt/in/v${v}`, "hello", { qos: 1 });
      const m = await got;
      assert.equal(m.topic, `js/mqtt/out/v${v}`);
      assert.equal(m.payload, "hello");
    } finally {
      await c.endAsync();
    }
  });

  test(`v${v}: QoS 2 between two clients`, async () => {
    const { c: a } = await connect(v);
    const { c: b } = await connect(v);
    try {
      await b.subscribeAsync(`js/q2/v${v}`, { qos: 2 });
      const got = nextMessage(b);
      await a.publishAsync(`js/q2/v${v}`, "exactly once", { qos: 2 });
      const m = await got;
      assert.equal(m.payload, "exactly once");
      assert.equal(m.packet.qos, 2);
    } finally {
      await a.endAsync();
      await b.endAsync();
    }
  });
}

test("v5: request/response with Response Topic and Correlation Data", async () => {
  const { c } = await connect(5);
  try {
    await c.subscribeAsync("js/replies");
    const got = nextMessage(c);
    await c.publishAsync("js/mqtt/echo", "ping", {
      qos: 1,
      properties: { responseTopic: "js/replies", correlationData: Buffer.from("c-1"), userProperties: { who: "node" } },
    });
    const m = await got;
    assert.equal(m.payload, "echo:ping");
    assert.equal(m.packet.properties.correlationData.toString(), "c-1");
  } finally {
    await c.endAsync();
  }
});

test("v5: wrong subscription filter gets 0x8F, shared subscription granted", async () => {
  const { c } = await connect(5);
  try {
    const granted = await c.subscribeAsync("$share/js/jobs/+", { qos: 1 });
    assert.equal(granted[0].qos, 1);
    await assert.rejects(c.subscribeAsync("a b/c"), /Topic Filter invalid/);
  } finally {
    await c.endAsync();
  }
});

test("v5: CONNACK assigns a client id to an empty one", async () => {
  const { c, ack } = await connect(5, { clientId: "", clean: true });
  try {
    assert.match(ack.properties.assignedClientIdentifier, /^wsgate-/);
  } finally {
    await c.endAsync();
  }
});
