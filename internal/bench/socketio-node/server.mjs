// The Node socket.io 4.8 server that `wsgate bench --targets socketio-node`
// measures beside wsgate's Socket.IO protocol (target wsgate-socketio),
// with the same rooms semantics as the gateway's bench config:
//
//   emit("join", room, ack)   the client joins room; the ack answers once it has
//   emit("say", room, data)   everyone in room gets EVENT message(data)
//
// and, like the gateway's bench config, a server ping every hour, so that
// idle clients, which read nothing, stay connected. Its only argument is
// the address to listen on (127.0.0.1:port); it prints "ready" on stdout
// once it accepts connections and exits on SIGTERM.
//
// Install its one dependency first: npm ci --prefix internal/bench/socketio-node
import { createServer } from "node:http";
import { Server } from "socket.io";

const addr = process.argv[2] ?? "127.0.0.1:3000";
const sep = addr.lastIndexOf(":");
const host = addr.slice(0, sep);
const port = Number(addr.slice(sep + 1));

const http = createServer();
const io = new Server(http, {
  pingInterval: 3600_000,
  pingTimeout: 3600_000,
  serveClient: false,
});

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    if (typeof room !== "string") return;
    socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("say", (room, data) => {
    if (typeof room !== "string") return;
    io.to(room).emit("message", data);
  });
});

http.listen(port, host, () => {
  process.stdout.write("ready\n");
});

process.on("SIGTERM", () => {
  io.close();
  process.exit(0);
});
