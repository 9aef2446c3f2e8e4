// socket.io-client 4.8 recovering its connection state across a restart of
// the gateway. Run by e2e/socketio_test.go (TestSocketIORecovery), which
// reads the lines this prints and acts on them:
//
//   JOINED        the socket is in room lobby: publish "one" on it (event news)
//   GOT_ONE       "one" came: restart the gateway, then publish "two"
//   OK            the socket came back with its id, recovered, and got "two"
//
// Env: WSGATE_HTTP (http://host:port).
import assert from "node:assert/strict";
import { io } from "socket.io-client";

const url = process.env.WSGATE_HTTP;
if (!url) throw new Error("WSGATE_HTTP is not set");

function once(s, event, ms = 60000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    s.once(event, (...args) => { clearTimeout(t); resolve(args); });
  });
}

const s = io(url, { transports: ["websocket"], reconnectionDelay: 300, reconnectionDelayMax: 1000 });
await once(s, "connect", 10000);
assert.equal(s.recovered, false);
const id = s.id;
await s.timeout(5000).emitWithAck("join", "lobby");
const one = once(s, "news");
console.log("JOINED");
const [data, offset] = await one;
assert.equal(data, "one");
assert.equal(typeof offset, "string", "a room event carries its offset last");
const two = once(s, "news");
const back = once(s, "connect");
console.log("GOT_ONE");
await back;
assert.equal(s.id, id, "the same socket id");
assert.equal(s.recovered, true, "recovered");
const [again] = await two;
assert.equal(again, "two");
console.log("OK");
s.close();
