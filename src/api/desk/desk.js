// voxdesk agent desk: log in, stay present through the desk websocket, take calls in the
// browser (WebRTC), see what the bot learned, write the ticket's wrap-up. Plain JS, no build.
"use strict";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "voxdesk.desk.token";
const USER_KEY = "voxdesk.desk.user";

const desk = {
  token: sessionStorage.getItem(TOKEN_KEY),
  user: sessionStorage.getItem(USER_KEY),
  ws: null,
  retry: 0,
  queuesTimer: null,
  call: null,        // {id, ticket, status, held, pc, stream}
  lastTicket: null,  // the ticket the wrap-up form writes to
};

// ---- HTTP ----

async function api(method, path, body, auth = true) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth && desk.token) headers["Authorization"] = "Bearer " + desk.token;
  const rsp = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await rsp.json(); } catch (_) { /* empty or not JSON */ }
  if (!rsp.ok) {
    const err = new Error((data && data.error) || rsp.statusText || "request failed");
    err.status = rsp.status;
    if (rsp.status === 401 && auth && path.startsWith("/api/desk/")) loggedOut();
    throw err;
  }
  return data;
}

// ---- login ----

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const me = await api("POST", "/api/desk/login",
      { user: $("user").value.trim(), password: $("password").value }, false);
    desk.token = me.token;
    desk.user = me.user;
    sessionStorage.setItem(TOKEN_KEY, me.token);
    sessionStorage.setItem(USER_KEY, me.user);
    $("password").value = "";
    $("agent-name").textContent = me.name;
    showDesk();
  } catch (e) {
    $("login-error").textContent = e.message;
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/desk/logout"); } catch (_) { /* already gone */ }
  loggedOut();
});

function loggedOut() {
  desk.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
  if (desk.ws) { desk.ws.onclose = null; desk.ws.close(); desk.ws = null; }
  clearInterval(desk.queuesTimer);
  finishCall("ended");
  $("desk-view").hidden = true;
  $("who").hidden = true;
  $("login-view").hidden = false;
}

function showDesk() {
  $("login-view").hidden = true;
  $("desk-view").hidden = false;
  $("who").hidden = false;
  if (!$("agent-name").textContent) $("agent-name").textContent = desk.user;
  connect();
  refreshAgent();
  refreshQueues();
  refreshLiveCalls();
  clearInterval(desk.queuesTimer);
  desk.queuesTimer = setInterval(() => { refreshQueues(); refreshLiveCalls(); }, 5000);
  renderCall();
}

// ---- the desk websocket ----

function connect() {
  if (!desk.token) return;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/desk/ws?token=${encodeURIComponent(desk.token)}`);
  desk.ws = ws;
  let opened = false;
  ws.onopen = () => { opened = true; desk.retry = 0; refreshAgent(); };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (_) { return; }
    onMessage(msg);
  };
  ws.onclose = () => {
    desk.ws = null;
    if (!desk.token) return;
    if (!opened && desk.retry >= 2) { loggedOut(); return; } // token refused
    desk.retry += 1;
    setTimeout(connect, Math.min(1000 * desk.retry, 10000));
  };
}

// Keeps proxies from closing an idle socket; the server answers nothing.
setInterval(() => { if (desk.ws && desk.ws.readyState === 1) desk.ws.send("ping"); }, 25000);

function onMessage(msg) {
  switch (msg.type) {
    case "ring": onRing(msg); break;
    case "stop_ringing":
      if (desk.call && desk.call.id === msg.call && desk.call.status === "ringing") finishCall("ended");
      break;
    case "ended":
      if (desk.call && desk.call.id === msg.call) finishCall("ended");
      break;
    case "turn": // the server pushes each turn committed to the ticket of this desk's call
      if (desk.call && desk.call.ticket === msg.ticket) loadTicket(msg.ticket);
      break;
    case "agent": showState(msg.to, msg.reason); refreshQueues(); break;
    case "lagged": refreshAgent(); break;
  }
}

// ---- agent state and queues ----

function showState(state, reason) {
  const el = $("state");
  el.textContent = state === "paused" && reason ? `paused (${reason})` : state.replace("_", " ");
  el.className = "badge " + state;
}

async function refreshAgent() {
  if (!desk.user) return;
  try {
    const a = await api("GET", `/api/agents/${encodeURIComponent(desk.user)}`);
    showState(a.state, a.reason);
    if (a.name) $("agent-name").textContent = a.name;
  } catch (_) { /* shown on the next change */ }
}

async function setState(body) {
  $("state-error").textContent = "";
  try {
    const a = await api("PATCH", `/api/agents/${encodeURIComponent(desk.user)}`, body);
    showState(a.state, a.reason);
  } catch (e) {
    $("state-error").textContent = e.message;
  }
}

$("available").addEventListener("click", () => setState({ state: "available" }));
$("end-wrap-up").addEventListener("click", () => setState({ state: "available" }));
$("pause").addEventListener("click", () => {
  const reason = $("pause-reason").value.trim();
  setState(reason ? { state: "paused", reason } : { state: "paused" });
});

async function refreshQueues() {
  try {
    const data = await api("GET", "/api/queues");
    const body = $("queues").querySelector("tbody");
    body.replaceChildren(...data.queues.map((q) => {
      const tr = document.createElement("tr");
      for (const v of [q.name, q.waiting, seconds(q.longest_wait_ms), q.agents.available]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.append(td);
      }
      return tr;
    }));
  } catch (_) { /* try again on the next tick */ }
}

// ---- live calls and supervision (the logged-in agent is the supervisor) ----

// Calls bridged to an agent: the ones a supervisor can join.
const SUPERVISABLE = ["with agent", "on hold"];
const MODES = ["listen", "whisper", "barge"];

async function refreshLiveCalls() {
  let data;
  try { data = await api("GET", "/api/calls"); } catch (_) { return; }
  const mine = desk.call && desk.call.status === "connected" ? desk.call.ticket : null;
  const calls = (data.calls || []).filter((c) =>
    c.ticket_id !== null && c.ticket_id !== mine && SUPERVISABLE.includes(c.state));
  const rows = calls.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.ticket = c.ticket_id;
    for (const v of ["#" + c.ticket_id, c.from, c.state]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    const actions = document.createElement("td");
    for (const mode of [...MODES, "leave"]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "small" + (mode === "leave" ? " stop" : "");
      b.dataset.mode = mode;
      b.textContent = mode[0].toUpperCase() + mode.slice(1);
      b.addEventListener("click", () => supervise(c.ticket_id, mode));
      actions.append(b);
    }
    tr.append(actions);
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 4;
    td.className = "muted";
    td.textContent = "No calls with agents";
    tr.append(td);
    rows.push(tr);
  }
  $("live-calls").querySelector("tbody").replaceChildren(...rows);
}

async function supervise(ticket, mode) {
  const status = $("supervise-status");
  status.textContent = "";
  try {
    if (mode === "leave") {
      await api("DELETE", `/api/calls/${ticket}/supervise`);
      status.textContent = `Left call #${ticket}`;
    } else {
      await api("POST", `/api/calls/${ticket}/supervise`, { supervisor: desk.user, mode });
      status.textContent = `Calling your phone to ${mode} on #${ticket}…`;
    }
  } catch (e) {
    status.textContent = e.message;
  }
}

function seconds(ms) {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

// ---- calls ----

function onRing(msg) {
  if (desk.call && ["ringing", "connecting", "connected"].includes(desk.call.status)) return;
  if (desk.call) stopCall(desk.call);
  desk.call = { id: msg.call, ticket: msg.ticket, status: "ringing", held: false, pc: null, stream: null };
  desk.lastTicket = msg.ticket;
  $("caller").textContent = msg.caller || "unknown";
  $("intent").textContent = msg.intent || "—";
  $("queue-name").textContent = msg.queue;
  $("queue-wait").textContent = seconds((msg.queue_wait_secs || 0) * 1000);
  $("ticket-id").textContent = "#" + msg.ticket;
  $("call-error").textContent = "";
  $("transfer-to").value = "";
  $("note").value = "";
  $("disposition").value = "";
  $("save-status").textContent = "";
  renderCall();
  loadTicket(msg.ticket);
  loadHistory(msg.ticket);
}

function setStatus(status) {
  if (!desk.call) return;
  desk.call.status = status;
  renderCall();
}

function renderCall() {
  const status = desk.call ? desk.call.status : "idle";
  const el = $("call-status");
  el.textContent = status;
  el.className = "badge " + status;
  $("incoming").hidden = !desk.call;
  document.querySelector(".call").classList.toggle("ringing", status === "ringing");
  const up = status === "connecting" || status === "connected";
  $("answer").disabled = status !== "ringing";
  $("decline").disabled = status !== "ringing";
  $("hangup").disabled = !up && status !== "ringing";
  $("transfer").disabled = status !== "connected";
  $("hold").disabled = status !== "connected";
  $("hold").textContent = desk.call && desk.call.held ? "Resume" : "Hold";
  $("hold").classList.toggle("held", Boolean(desk.call && desk.call.held));
  $("save").disabled = desk.lastTicket === null;
}

function waitForIce(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms); // host candidates come at once; do not hang on a stuck gatherer
  });
}

$("answer").addEventListener("click", async () => {
  const call = desk.call;
  if (!call || call.status !== "ringing") return;
  setStatus("connecting");
  $("call-error").textContent = "";
  try {
    call.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const pc = new RTCPeerConnection({ iceServers: [] });
    call.pc = pc;
    for (const track of call.stream.getTracks()) pc.addTrack(track, call.stream);
    pc.ontrack = (ev) => { $("remote-audio").srcObject = ev.streams[0] || new MediaStream([ev.track]); };
    pc.onconnectionstatechange = () => {
      if (desk.call !== call) return;
      if (pc.connectionState === "connected") setStatus("connected");
      if (["failed", "closed"].includes(pc.connectionState)) finishCall("ended");
    };
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIce(pc, 3000);
    const rsp = await api("POST", `/api/desk/calls/${call.id}/answer`, { sdp: pc.localDescription.sdp });
    if (desk.call !== call) return;
    await pc.setRemoteDescription({ type: "answer", sdp: rsp.sdp });
    if (pc.connectionState === "connected") setStatus("connected");
    // Turns said since the ring; later ones arrive as "turn" messages.
    loadTicket(call.ticket);
  } catch (e) {
    if (desk.call !== call) return;
    $("call-error").textContent = "Answer failed: " + e.message;
    closeMedia(call);
    // The server rings on after a failed set-up; a call that is gone shows as ended.
    setStatus(e.status === 404 || e.status === 409 ? "ended" : "ringing");
  }
});

$("decline").addEventListener("click", () => callAction("decline"));
$("hangup").addEventListener("click", () => callAction("hangup"));

async function callAction(action) {
  const call = desk.call;
  if (!call) return;
  try {
    await api("POST", `/api/desk/calls/${call.id}/${action}`);
  } catch (e) {
    if (e.status !== 404) $("call-error").textContent = e.message;
  }
  if (desk.call === call) finishCall("ended");
}

// Hold: the caller hears hold music and the bridge pauses until Resume.
$("hold").addEventListener("click", async () => {
  const call = desk.call;
  if (!call || call.status !== "connected") return;
  const hold = !call.held;
  try {
    await api("POST", `/api/desk/calls/${call.id}/hold`, { hold });
    if (desk.call !== call) return;
    call.held = hold;
    $("call-error").textContent = hold ? "Caller on hold" : "";
    renderCall();
  } catch (e) {
    $("call-error").textContent = e.message;
  }
});

$("transfer").addEventListener("click", async () => {
  const call = desk.call;
  const to = $("transfer-to").value.trim();
  if (!call || !to) return;
  try {
    await api("POST", `/api/desk/calls/${call.id}/transfer`, { to });
    $("call-error").textContent = `Transferring to ${to}…`;
  } catch (e) {
    $("call-error").textContent = e.message;
  }
});

function closeMedia(call) {
  if (call.pc) { call.pc.onconnectionstatechange = null; call.pc.close(); call.pc = null; }
  if (call.stream) { call.stream.getTracks().forEach((t) => t.stop()); call.stream = null; }
  $("remote-audio").srcObject = null;
}

function stopCall(call) {
  closeMedia(call);
}

function finishCall(status) {
  const call = desk.call;
  if (!call) { renderCall(); return; }
  stopCall(call);
  if (call.ticket !== null) loadTicket(call.ticket);
  setStatus(status);
}


// ---- the ticket: conversation, suggestions, history ----

const SPEAKERS = {
  speech: "Caller", "agent-speech": "Agent", prompt: "Bot", dtmf: "Caller (keys)", note: "Note", transfer: "Transfer",
};

async function loadTicket(id) {
  let ticket;
  try { ticket = await api("GET", `/api/tickets/${id}`); } catch (_) { return; }
  if (desk.lastTicket !== id) return;
  renderTranscript(ticket.turns || []);
  renderSuggestions(ticket.turns || []);
}

function speakerOf(turn) {
  if (turn.speaker) {
    const s = String(turn.speaker);
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
  if (/agent/.test(turn.kind)) return "Agent";
  return SPEAKERS[turn.kind] || null;
}

function renderTranscript(turns) {
  const list = $("transcript");
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
  const items = [];
  for (const turn of turns) {
    const who = speakerOf(turn);
    if (!who || !turn.text) continue;
    const li = document.createElement("li");
    const lower = who.toLowerCase();
    li.className = lower.startsWith("caller") ? "caller" : lower === "agent" ? "agent" : lower === "bot" ? "bot" : "";
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who;
    const text = document.createElement("span");
    text.textContent = turn.text;
    li.append(label, text);
    const meta = turnMeta(turn);
    if (meta) {
      const m = document.createElement("div");
      m.className = "meta";
      m.textContent = meta;
      li.append(m);
    }
    items.push(li);
  }
  list.replaceChildren(...items);
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function turnMeta(turn) {
  const parts = [];
  if (turn.intent) {
    const c = typeof turn.intent_confidence === "number" ? ` ${Math.round(turn.intent_confidence * 100)}%` : "";
    parts.push(`intent ${turn.intent}${c}`);
  }
  if (turn.entities && typeof turn.entities === "object") {
    for (const [k, v] of Object.entries(turn.entities)) {
      parts.push(`${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`);
    }
  }
  if (turn.sentiment && turn.sentiment.polarity) {
    const emotion = turn.sentiment.emotion ? `, ${turn.sentiment.emotion}` : "";
    parts.push(`${turn.sentiment.polarity}${emotion}`);
  }
  return parts.join(" · ");
}

// Agent assist: the latest caller turn's candidate intents, each with the reply the bot would
// give (from the dialplan), and a close knowledge article's answer; replies first, best first.
function renderSuggestions(turns) {
  const latest = [...turns].reverse().find((t) => Array.isArray(t.candidates) && t.candidates.length);
  const options = latest ? latest.candidates.map((c) => ({
    reply: typeof c.reply === "string" ? c.reply : "",
    label: String(c.intent || "").replace(/_/g, " "),
    confidence: c.confidence,
  })) : [];
  const faq = latest && latest.faq_answer;
  if (faq && typeof faq.answer === "string") {
    options.push({ reply: faq.answer, label: `FAQ ${faq.article || ""}`.trim(), confidence: faq.confidence });
  }
  const score = (o) => (typeof o.confidence === "number" ? o.confidence : 0);
  options.sort((a, b) => (b.reply ? 1 : 0) - (a.reply ? 1 : 0) || score(b) - score(a));
  const items = options.slice(0, 3).map((o) => {
    const li = document.createElement("li");
    li.className = "suggestion";
    const reply = document.createElement("span");
    reply.className = o.reply ? "reply" : "reply none";
    reply.textContent = o.reply || "(no reply in the dialplan)";
    const intent = document.createElement("small");
    intent.className = "intent";
    const conf = typeof o.confidence === "number" ? ` · ${Math.round(o.confidence * 100)}%` : "";
    intent.textContent = o.label + conf;
    li.append(reply, intent);
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "No suggestions yet";
    items.push(li);
  }
  $("suggestions").replaceChildren(...items);
}

async function loadHistory(id) {
  let data;
  try { data = await api("GET", `/api/tickets/${id}/history`); } catch (_) { return; }
  const items = (data.tickets || []).map((t) => {
    const li = document.createElement("li");
    const when = (t.started_at || "").slice(0, 16).replace("T", " ");
    const what = t.subject || t.agent_disposition || t.disposition || "no subject";
    li.textContent = `#${t.id} · ${when} · ${what}`;
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = "First call from this caller";
    items.push(li);
  }
  $("history").replaceChildren(...items);
}

// ---- wrap-up ----

$("save").addEventListener("click", async () => {
  const ticket = desk.lastTicket;
  if (ticket === null) return;
  const text = $("note").value.trim();
  const disposition = $("disposition").value;
  $("save-status").textContent = "";
  try {
    if (text) await api("POST", `/api/tickets/${ticket}/notes`, { text });
    if (disposition) await api("PATCH", `/api/tickets/${ticket}`, { disposition });
    $("note").value = "";
    $("save-status").textContent = text || disposition ? "Saved" : "Nothing to save";
  } catch (e) {
    $("save-status").textContent = e.message;
  }
});

// ---- start ----

if (desk.token) showDesk();
else renderCall();
