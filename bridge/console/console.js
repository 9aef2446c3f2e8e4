// wsgate admin console: plain JavaScript, no dependencies. Everything the
// page shows comes from the gateway's operator endpoints (bridge/console.go),
// sent the admin token as a bearer token; text from the gateway is only
// ever set as textContent, never parsed as HTML.
"use strict";

const tokenKey = "wsgate-admin-token";
const maxTapLines = 200;
const $ = (sel) => document.querySelector(sel);

let timers = [];
let tapAbort = null;
let lastRoutes = null; // {at: ms, counts: Map(key -> runs)}
let selected = null; // the connection id whose details are shown

// el makes an element with text content or children.
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells, numeric = []) {
  const tr = el("tr");
  cells.forEach((c, i) => tr.append(el("td", c, numeric.includes(i) ? "num" : "")));
  return tr;
}

class Unauthorized extends Error {}

// api fetches path with the admin token; a 401 logs out.
async function api(path, opts = {}) {
  const res = await fetch(path, {
    ...opts,
    cache: "no-store",
    headers: { ...(opts.headers || {}), Authorization: "Bearer " + sessionStorage.getItem(tokenKey) },
  });
  if (res.status === 401) {
    logout("The admin token was refused.");
    throw new Unauthorized();
  }
  return res;
}

async function getJSON(path) {
  const res = await api(path);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`);
  return body;
}

// --- login ---

async function login(token) {
  sessionStorage.setItem(tokenKey, token);
  $("#login-error").textContent = "";
  try {
    await refreshCounts();
  } catch (e) {
    if (!(e instanceof Unauthorized)) {
      $("#login-error").textContent = "The gateway did not answer: " + e.message;
    }
    return;
  }
  $("#login-view").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  refreshRoutes();
  refreshErrors();
  timers = [
    setInterval(() => refreshCounts().catch(noteError("#counts-note")), 2000),
    setInterval(() => refreshRoutes(), 5000),
    setInterval(() => refreshErrors(), 5000),
  ];
}

function logout(message) {
  sessionStorage.removeItem(tokenKey);
  timers.forEach(clearInterval);
  timers = [];
  stopTap();
  $("#app").hidden = true;
  $("#logout").hidden = true;
  $("#login-view").hidden = false;
  $("#whoami").textContent = "";
  $("#login-error").textContent = message || "";
  $("#token").value = "";
}

function noteError(sel) {
  return (e) => {
    if (!(e instanceof Unauthorized)) $(sel).textContent = e.message;
  };
}

// --- counts ---

async function refreshCounts() {
  const c = await getJSON("/admin/api/counts");
  $("#whoami").textContent = "gateway " + c.gateway;
  $("#total").textContent = c.total;
  $("#counts-note").textContent = c.complete ? "" : "Not every gateway answered in time: counts are partial.";
  const protos = $("#protocols tbody");
  protos.replaceChildren(...Object.keys(c.protocols).sort().map((p) => row([p, c.protocols[p]], [1])));
  const gws = $("#gateways tbody");
  gws.replaceChildren(...c.gateways.map((g) => {
    const by = Object.keys(g.protocols).sort().filter((p) => g.protocols[p] > 0)
      .map((p) => `${p} ${g.protocols[p]}`).join(" · ");
    return row([g.gateway + (g.gateway === c.gateway ? " (this one)" : ""), g.total, by], [1]);
  }));
}

// --- search, details, close ---

async function search() {
  const q = $("#query").value.trim();
  const params = new URLSearchParams();
  if (q) params.set($("#field").value, q);
  try {
    const r = await getJSON("/admin/api/connections?" + params);
    let note = `${r.connections.length} found on ${r.gateways} gateway(s)`;
    if (r.truncated) note += "; more match than shown, narrow the search";
    if (!r.complete) note += "; not every gateway answered";
    $("#search-note").textContent = note;
    $("#results tbody").replaceChildren(...r.connections.map((c) => {
      const tr = row([c.connectionId, c.protocol, c.principal || "", c.identity.sourceIp, c.gateway,
        new Date(c.connectedAt).toLocaleTimeString()]);
      tr.dataset.id = c.connectionId;
      if (c.connectionId === selected) tr.classList.add("selected");
      tr.addEventListener("click", () => showDetails(c.connectionId));
      return tr;
    }));
  } catch (e) {
    noteError("#search-note")(e);
  }
}

async function showDetails(id) {
  selected = id;
  document.querySelectorAll("#results tbody tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.id === id));
  $("#details").hidden = false;
  $("#detail-id").textContent = id;
  $("#close-status").textContent = "";
  $("#close-conn").disabled = false;
  try {
    const res = await api("/@connections/" + encodeURIComponent(id));
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      $("#detail-json").textContent = body.message || `HTTP ${res.status}`;
      $("#close-conn").disabled = true;
      return;
    }
    $("#detail-json").textContent = JSON.stringify(body, null, 2);
  } catch (e) {
    noteError("#close-status")(e);
  }
}

async function closeSelected() {
  const id = selected;
  $("#close-conn").disabled = true;
  try {
    const res = await api(`/@connections/${encodeURIComponent(id)}?code=4000&reason=${encodeURIComponent("closed by an operator")}`,
      { method: "DELETE" });
    if (res.status === 204) {
      $("#close-status").textContent = "closed";
    } else {
      const body = await res.json().catch(() => ({}));
      $("#close-status").textContent = body.message || `HTTP ${res.status}`;
    }
    await refreshCounts();
    await search();
  } catch (e) {
    noteError("#close-status")(e);
  }
}

// --- routes ---

async function refreshRoutes() {
  let r;
  try {
    r = await getJSON("/admin/api/routes");
  } catch (e) {
    return;
  }
  const at = Date.parse(r.at);
  const counts = new Map();
  const fmt = (n) => (n ? n.toFixed(2) : "–");
  $("#routes tbody").replaceChildren(...r.routes.map((x) => {
    const key = (x.stage || "") + "\u0000" + x.key;
    counts.set(key, x.count);
    let rate = "–";
    if (lastRoutes && lastRoutes.counts.has(key) && at > lastRoutes.at) {
      rate = ((x.count - lastRoutes.counts.get(key)) * 1000 / (at - lastRoutes.at)).toFixed(1);
    }
    const kinds = Object.entries(x.errors_by_kind || {}).map(([k, n]) => `${k} ${n}`).join(", ");
    return row([x.stage || "", x.key, x.integration || "", x.target || "", x.count, rate,
      fmt(x.mean_ms), fmt(x.p50_ms), fmt(x.p99_ms), x.errors ? `${x.errors} (${kinds})` : "0"], [4, 5, 6, 7, 8]);
  }));
  lastRoutes = { at, counts };
}

// --- recent errors ---

async function refreshErrors() {
  let r;
  try {
    r = await getJSON("/admin/api/errors");
  } catch (e) {
    return;
  }
  $("#errors").replaceChildren(...r.records.map((x) => {
    const attrs = Object.entries(x.attrs || {}).map(([k, v]) => `${k}=${v}`).join(" ");
    return el("li", `${new Date(x.time).toLocaleTimeString()} ${x.level} ${x.message} ${attrs}`, x.level);
  }));
}

// --- message tap: Server-Sent Events read from a fetch, which can send
// the Authorization header an EventSource cannot. ---

async function startTap(subject) {
  stopTap();
  const abort = new AbortController();
  tapAbort = abort;
  $("#tap-stop").disabled = false;
  $("#tap-messages").replaceChildren();
  const status = $("#tap-status");
  status.textContent = "connecting…";
  try {
    const res = await api("/admin/api/tap?subject=" + encodeURIComponent(subject), { signal: abort.signal });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      status.textContent = body.message || `HTTP ${res.status}`;
      status.classList.add("error");
      $("#tap-stop").disabled = true;
      return;
    }
    status.classList.remove("error");
    status.textContent = `tapping ${subject}`;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        tapEvent(buf.slice(0, i), subject);
        buf = buf.slice(i + 2);
      }
    }
    if (tapAbort === abort) status.textContent += " (ended)";
  } catch (e) {
    if (!abort.signal.aborted) noteError("#tap-status")(e);
  } finally {
    if (tapAbort === abort) {
      tapAbort = null;
      $("#tap-stop").disabled = true;
    }
  }
}

function tapEvent(block, subject) {
  let event = "message";
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) event = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (!data) return; // a keep-alive comment
  const d = JSON.parse(data);
  const list = $("#tap-messages");
  switch (event) {
    case "message": {
      const text = d.encoding === "base64" ? `[${d.size} bytes, binary]` : d.data + (d.truncated ? "…" : "");
      list.prepend(el("li", `${new Date().toLocaleTimeString()} ${d.subject} (${d.size} B) ${text}`));
      while (list.children.length > maxTapLines) list.lastElementChild.remove();
      break;
    }
    case "dropped":
      $("#tap-status").textContent = `tapping ${subject}; ${d.dropped} message(s) over the rate limit not shown`;
      break;
    case "end":
      $("#tap-status").textContent = `tap ended: ${d.reason}`;
      break;
  }
}

function stopTap() {
  if (tapAbort) {
    tapAbort.abort();
    tapAbort = null;
    $("#tap-status").textContent = "stopped";
  }
  $("#tap-stop").disabled = true;
}

// --- wiring ---

$("#login").addEventListener("submit", (e) => {
  e.preventDefault();
  login($("#token").value.trim());
});
$("#logout").addEventListener("click", () => logout());
$("#search").addEventListener("submit", (e) => {
  e.preventDefault();
  search();
});
$("#close-conn").addEventListener("click", closeSelected);
$("#tap").addEventListener("submit", (e) => {
  e.preventDefault();
  startTap($("#tap-subject").value.trim());
});
$("#tap-stop").addEventListener("click", stopTap);

if (sessionStorage.getItem(tokenKey)) login(sessionStorage.getItem(tokenKey));
