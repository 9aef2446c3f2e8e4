// The chat page: STOMP over WebSocket to wsgate. Rooms are NATS subjects
// chat.rooms.<room>; history and presence come from a NATS worker through
// request-reply (/temp-queue).
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  let client, room, user;

  function show(msg) {
    $("messages").append(item(msg));
    $("messages").scrollTop = $("messages").scrollHeight;
  }

  function item(msg) {
    const li = document.createElement("li");
    if (msg.system) {
      li.className = "system";
      li.textContent = msg.text;
    } else {
      const b = document.createElement("b");
      b.textContent = msg.user + ":";
      li.append(b, document.createTextNode(msg.text));
    }
    return li;
  }

  function showPresent(names) {
    $("present").replaceChildren(...names.map((n) => {
      const li = document.createElement("li");
      li.textContent = n;
      return li;
    }));
  }

  function status(online) {
    $("status").textContent = online ? "online" : "offline";
    $("status").className = online ? "online" : "offline";
  }

  $("join").addEventListener("submit", (e) => {
    e.preventDefault();
    user = $("name").value.trim();
    room = $("room").value.trim().replace(/[^A-Za-z0-9_-]/g, "-");
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    client = new StompJs.Client({
      brokerURL: `${proto}//${location.host}/stomp`,
      connectHeaders: { login: user },
      reconnectDelay: 2000,
    });
    client.onConnect = () => {
      status(true);
      client.subscribe(`/topic/chat.rooms.${room}`, (m) => show(JSON.parse(m.body)));
      client.subscribe(`/topic/chat.presence.${room}`, (m) => showPresent(JSON.parse(m.body)));
      // History and presence: a request to the worker, answered on a
      // private reply queue.
      client.subscribe("/temp-queue/history", (m) => {
        // History goes before whatever arrived while it was on its way.
        const h = JSON.parse(m.body);
        $("messages").prepend(...h.messages.map(item));
        showPresent(h.present);
      });
      client.publish({
        destination: "chat.history",
        headers: { "reply-to": "/temp-queue/history", "content-type": "application/json" },
        body: JSON.stringify({ room, user }),
      });
    };
    client.onWebSocketClose = () => status(false);
    client.onStompError = (f) => show({ system: true, text: "error: " + f.headers.message });
    client.activate();
    $("join").hidden = true;
    $("chat").hidden = false;
    $("text").focus();
  });

  $("send").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value.trim();
    if (!text || !client || !client.connected) return;
    client.publish({
      destination: `/topic/chat.rooms.${room}`,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user, text }),
    });
    $("text").value = "";
  });
})();
