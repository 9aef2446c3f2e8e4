// WAMP-CRA with Autobahn|JS against a running wsgate whose api_keys hold
// the key "cra-user" with a wampcra block (salted). Run by
// e2e/wamp_cra_test.go (TestWAMPCRANode).
//
// Env: WSGATE_URL (ws://host:port/), WSGATE_SECRET (the API key itself).
import { test } from "node:test";
import assert from "node:assert/strict";
import autobahn from "autobahn";

const url = process.env.WSGATE_URL;
const secret = process.env.WSGATE_SECRET;
if (!url || !secret) throw new Error("WSGATE_URL and WSGATE_SECRET must be set");

// join opens a session with wampcra as authid, signing with secret.
function join(authid, secret, ser) {
  return new Promise((resolve, reject) => {
    const conn = new autobahn.Connection({
      url, realm: "realm1", max_retries: 0, authmethods: ["wampcra"], authid,
      serializers: [ser === "msgpack" ? new autobahn.serializer.MsgpackSerializer() : new autobahn.serializer.JSONSerializer()],
      onchallenge: (session, method, extra) => {
        assert.equal(method, "wampcra");
        const key = autobahn.auth_cra.derive_key(secret, extra.salt, extra.iterations, extra.keylen);
        return autobahn.auth_cra.sign(key, extra.challenge);
      },
    });
    conn.onopen = (session, details) => resolve({ conn, session, details });
    conn.onclose = (reason, details) => { reject(new Error(`${reason} ${details && details.reason}`)); return true; };
    conn.open();
  });
}

for (const ser of ["json", "msgpack"]) {
  test(`wampcra with the right key (${ser})`, async () => {
    const { conn, details } = await join("cra-user", secret, ser);
    assert.equal(details.authid, "cra-user");
    assert.equal(details.authmethod, "wampcra");
    assert.equal(details.authrole, "user");
    conn.close();
  });
}

test("wampcra with a wrong key is refused", async () => {
  await assert.rejects(join("cra-user", secret + "x", "json"), /authentication_failed/);
});

test("wampcra for an authid without a key is refused the same way", async () => {
  await assert.rejects(join("nobody", secret, "json"), /authentication_failed/);
});
