// The chat page, over STOMP (index.html) or Socket.IO (socketio.html, whose
// body says data-transport="socketio"), both to wsgate. Rooms are NATS
// subjects chat.rooms.<room>, so both pages talk in the same rooms; history
// and presence come from a NATS worker through request-reply.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);

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

  // History goes before whatever arrived while it was on its way.
  function showHistory(h) {
    $("messages").prepend(...h.messages.map(item));
    showPresent(h.present);
  }

  function status(online) {
    $("status").textContent = online ? "online" : "offline";
    $("status").className = online ? "online" : "offline";
  }

  // stomp joins room over STOMP: the room and its presence are /topic
  // subscriptions; history is a SEND with reply-to, answered on a private
  // reply queue. It returns the function that says something.
  function stomp(room, user) {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const client = new StompJs.Client({
      brokerURL: `${proto}//${location.host}/stomp`,
      connectHeaders: { login: user },
      reconnectDelay: 2000,
    });
    client.onConnect = () => {
      status(true);
      client.subscribe(`/topic/chat.rooms.${room}`, (m) => show(JSON.parse(m.body)));
      client.subscribe(`/topic/chat.presence.${room}`, (m) => showPresent(JSON.parse(m.body)));
      client.subscribe("/temp-queue/history", (m) => showHistory(JSON.parse(m.body)));
      client.publish({
        destination: "chat.history",
        headers: { "reply-to": "/temp-queue/history", "content-type": "application/json" },
        body: JSON.stringify({ room, user }),
      });
    };
    client.onWebSocketClose = () => status(false);
    client.onStompError = (f) => show({ system: true, text: "error: " + f.headers.message });
    client.activate();
    return (text) => {
      if (!client.connected) return false;
      client.publish({
        destination: `/topic/chat.rooms.${room}`,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user, text }),
      });
      return true;
    };
  }

  // socketio joins room over Socket.IO (wsgate.yaml's socketio block): the
  // room of namespace /rooms is chat.rooms.<room> and of /presence
  // chat.presence.<room>, joined with the join route; history is an emit
  // with an ack, a NATS request; a message is emitted to the message route,
  // which publishes it into the room. Both namespaces share one connection
  // (polling, then upgraded to a WebSocket: the client's defaults).
  function socketio(room, user) {
    const rooms = io("/rooms");
    const presence = io("/presence");
    const failed = (what, err) => show({ system: true, text: `error: ${what}: ${err.message ?? JSON.stringify(err)}` });
    rooms.on("message", show);
    presence.on("message", showPresent);
    // Joined again on every connect: a reconnection starts with no rooms.
    // The history request comes last, so that the worker's announcements
    // of who joined find this page in both rooms; an emit waits for its
    // namespace to connect.
    rooms.on("connect", async () => {
      status(true);
      try {
        for (const s of [rooms, presence]) {
          const err = await s.timeout(10000).emitWithAck("join", room);
          if (err) return failed("join", err);
        }
        const h = await rooms.timeout(10000).emitWithAck("history", { room, user });
        if (h.error) return failed("history", h);
        showHistory(h);
      } catch (err) {
        failed("join", err);
      }
    });
    rooms.on("disconnect", () => status(false));
    rooms.on("connect_error", (err) => failed("connect", err));
    rooms.on("wsgate:error", (e) => failed(e.event, e));
    return (text) => {
      if (!rooms.connected) return false;
      rooms.emit("message", { room, user, text });
      show({ user, text }); // the gateway does not send a connection's own message back to it
      return true;
    };
  }

  let say;
  $("join").addEventListener("submit", (e) => {
    e.preventDefault();
    const user = $("name").value.trim();
    const room = $("room").value.trim().replace(/[^A-Za-z0-9_-]/g, "-");
    say = document.body.dataset.transport === "socketio" ? socketio(room, user) : stomp(room, user);
    $("join").hidden = true;
    $("chat").hidden = false;
    $("text").focus();
  });

  $("send").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value.trim();
    if (text && say && say(text)) $("text").value = "";
  });
})();
