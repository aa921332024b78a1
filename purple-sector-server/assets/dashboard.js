"use strict";
const $ = (id) => document.getElementById(id);
const fmt = (ms) => ms == null ? "—" : `${Math.floor(ms / 60000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, "0")}.${String(ms % 1000).padStart(3, "0")}`;
let frames = 0, trace = [];

async function loadSessions() {
  const res = await fetch("/api/sessions");
  if (!res.ok) return;
  const list = $("sessions");
  list.replaceChildren();
  for (const s of (await res.json()).reverse()) {
    const li = document.createElement("li");
    li.textContent = `#${s.id} ${s.name} — ${s.track || "?"} (${s.source}, ${s.status})`;
    li.style.cursor = "pointer";
    li.onclick = () => openSession(s.id);
    list.append(li);
  }
}

function draw() {
  const c = $("chart"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const plot = (key, max, color) => {
    g.strokeStyle = color; g.beginPath();
    trace.forEach((f, i) => {
      const x = f.normalizedPosition * c.width, y = c.height - (f[key] / max) * (c.height - 10) - 5;
      if (i === 0 || Math.abs(f.normalizedPosition - trace[i - 1].normalizedPosition) > 0.5) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  };
  plot("speed", 320, "#a66cff"); plot("throttle", 1, "#3ddc84"); plot("brake", 1, "#ff5c7a");
  // Steering (not clipped: the range follows the largest angle) and gear, live.
  const steer = Math.max(...trace.map((f) => Math.abs(f.steerDeg)), 30);
  const gear = Math.max(...trace.map((f) => f.gear), 1);
  lineChart($("chart-steer"), [
    { xs: trace.map((f) => f.normalizedPosition), ys: trace.map((f) => f.steerDeg), color: "#a66cff" },
    { xs: trace.map((f) => f.normalizedPosition), ys: trace.map((f) => (f.gear / gear) * steer), color: "#f2c14e" }], [-steer, steer]);
}

function addLap(lap) {
  const tr = document.createElement("tr");
  tr.style.cursor = "pointer";
  tr.dataset.lapId = lap.id;
  tr.onclick = () => openLap(lap).catch((e) => { $("gap").textContent = e.message; });
  for (const text of [lap.lapNumber, lap.kind, fmt(lap.lapTimeMs), lap.valid ? "valid" : `invalid: ${lap.invalidReason}`]) {
    const td = document.createElement("td"); td.textContent = text; tr.append(td);
  }
  $("laps").prepend(tr);
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws?hz=30`);
  ws.onopen = () => { $("status").textContent = "connected"; };
  ws.onclose = () => { $("status").textContent = "disconnected, retrying…"; setTimeout(connect, 1000); };
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "telemetry") {
      const f = m.data; frames++;
      $("lap").textContent = f.lapNumber; $("clock").textContent = fmt(f.lapTime);
      $("speed").textContent = f.speed.toFixed(0); $("gear").textContent = f.gear === -1 ? "R" : f.gear === 0 ? "N" : f.gear;
      $("frames").textContent = frames;
      const d = $("delta");
      if (f.delta == null) { d.textContent = "–"; d.className = ""; }
      else { d.textContent = (f.delta > 0 ? "+" : "") + f.delta.toFixed(2); d.className = f.delta > 0 ? "behind" : "ahead"; }
      if (trace.length && f.normalizedPosition < trace[trace.length - 1].normalizedPosition - 0.5) trace = [];
      trace.push(f); if (trace.length > 4000) trace.shift();
      draw();
    } else if (m.type === "lap_completed") {
      addLap(m.data);
    } else if (m.type === "session") {
      $("live-title").textContent = `Live — ${m.data.name} (${m.data.state})`;
      loadSessions();
    }
  };
  $("start").onclick = () => ws.send(JSON.stringify({ type: "start_demo" }));
  $("stop").onclick = () => ws.send(JSON.stringify({ type: "stop_demo" }));
}

async function api(path, options) {
  const res = await fetch(path, options);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

async function openSession(id) {
  const s = await api(`/api/sessions/${id}`);
  const list = $("laps");
  list.replaceChildren();
  for (const lap of s.laps || []) {
    addLap(lap);
  }
}

function lineChart(canvas, series, range) {
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  const [lo, hi] = range;
  const y = (v) => canvas.height - 4 - ((v - lo) / (hi - lo || 1)) * (canvas.height - 8);
  if (lo < 0 && hi > 0) { g.strokeStyle = "#3a3350"; g.beginPath(); g.moveTo(0, y(0)); g.lineTo(canvas.width, y(0)); g.stroke(); }
  for (const { xs, ys, color, width } of series) {
    g.strokeStyle = color; g.lineWidth = width || 1.2; g.beginPath();
    xs.forEach((x, i) => { const px = x * canvas.width, py = y(ys[i]); if (i === 0) g.moveTo(px, py); else g.lineTo(px, py); });
    g.stroke();
  }
}

/// Lap clock at each position of `ref`, interpolated on `lap`'s samples.
function timeAt(t, p) {
  let i = t.position.findIndex((q) => q >= p);
  if (i <= 0) return t.lapTimeMs[Math.max(i, 0)];
  const a = t.position[i - 1], b = t.position[i];
  const f = b > a ? (p - a) / (b - a) : 0;
  return t.lapTimeMs[i - 1] + f * (t.lapTimeMs[i] - t.lapTimeMs[i - 1]);
}

let currentLap = null;

async function openLap(lap) {
  currentLap = lap;
  const select = $("reference");
  for (const option of [...select.options].slice(2)) option.remove();
  const session = await api(`/api/sessions/${lap.sessionId}`);
  for (const other of session.laps || []) {
    if (other.id === lap.id || other.lapTimeMs == null) continue;
    const option = document.createElement("option");
    option.value = other.id; option.textContent = `lap ${other.lapNumber} (${fmt(other.lapTimeMs)})`;
    select.append(option);
  }
  $("lap-view").style.display = "";
  $("lap-title").textContent = `Lap ${lap.lapNumber} (${lap.kind}) — ${fmt(lap.lapTimeMs)}`;
  await analyze(false);
  loadChat();
}

async function analyze(force) {
  const choice = $("reference").value;
  const body = choice === "best" || choice === "ideal" ? { against: choice } : { referenceLapId: Number(choice) };
  body.forceReanalyze = force;
  const a = await api(`/api/laps/${currentLap.id}/analyze`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  $("gap").textContent = `${a.analysis.gap_s >= 0 ? "+" : ""}${a.analysis.gap_s.toFixed(3)} s against ${a.referenceLapId ? "lap #" + a.referenceLapId : "the ideal lap"} (${a.engine})`;
  const rows = $("corners"); rows.replaceChildren();
  for (const c of a.analysis.corners) {
    const tr = document.createElement("tr");
    const m = (v) => v == null ? "—" : v.toFixed(0);
    for (const text of [c.corner.name, c.time_loss_s.toFixed(3), c.lap.min_speed_kmh.toFixed(1), c.reference.min_speed_kmh.toFixed(1), m(c.lap.brake_point_m), m(c.reference.brake_point_m)]) {
      const td = document.createElement("td"); td.textContent = text; tr.append(td);
    }
    rows.append(tr);
  }
  const list = $("suggestions"); list.replaceChildren();
  for (const sug of a.suggestions) {
    const li = document.createElement("li"); li.className = "suggestion"; li.textContent = `[${sug.severity}] ${sug.message}`; list.append(li);
  }
  const refId = a.referenceLapId;
  const lapT = await api(`/api/laps/${currentLap.id}/telemetry?step=3`);
  const refT = refId ? await api(`/api/laps/${refId}/telemetry?step=3`) : lapT;
  const maxSpeed = Math.max(...lapT.speedKmh, ...refT.speedKmh, 1);
  lineChart($("c-speed"), [
    { xs: refT.position, ys: refT.speedKmh, color: "#8a8499" },
    { xs: lapT.position, ys: lapT.speedKmh, color: "#a66cff" }], [0, maxSpeed * 1.05]);
  lineChart($("c-pedals"), [
    { xs: refT.position, ys: refT.gas, color: "#5f6b64" }, { xs: refT.position, ys: refT.brake, color: "#6b5f64" },
    { xs: lapT.position, ys: lapT.gas, color: "#3ddc84" }, { xs: lapT.position, ys: lapT.brake, color: "#ff5c7a" }], [0, 1]);
  // Steering is not clipped: the range is the largest angle either way.
  const steer = Math.max(...lapT.steerDeg.map(Math.abs), ...refT.steerDeg.map(Math.abs), 1);
  lineChart($("c-steer"), [
    { xs: refT.position, ys: refT.steerDeg, color: "#8a8499" },
    { xs: lapT.position, ys: lapT.steerDeg, color: "#a66cff" }], [-steer, steer]);
  const delta = refT.position.map((p, i) => (timeAt(lapT, p) - refT.lapTimeMs[i]) / 1000);
  const dmax = Math.max(...delta.map(Math.abs), 0.05);
  lineChart($("c-delta"), [{ xs: refT.position, ys: delta, color: "#a66cff", width: 2 }], [-dmax, dmax]);
  drawMap(refT, delta);
}

function drawMap(t, delta) {
  const c = $("c-map"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const xs = t.x, zs = t.z;
  const minX = Math.min(...xs), maxX = Math.max(...xs), minZ = Math.min(...zs), maxZ = Math.max(...zs);
  const span = Math.max(maxX - minX, maxZ - minZ, 1), pad = 20, size = c.width - 2 * pad;
  const px = (i) => pad + (xs[i] - minX) / span * size, pz = (i) => pad + (zs[i] - minZ) / span * size;
  g.lineWidth = 5;
  for (let i = 10; i < xs.length; i += 10) {
    const slope = delta[i] - delta[i - 10];
    const s = Math.max(-1, Math.min(1, slope / 0.02));
    g.strokeStyle = s >= 0 ? `rgb(255,${Math.round(220 * (1 - s))},${Math.round(220 * (1 - s))})` : `rgb(${Math.round(220 * (1 + s))},255,${Math.round(220 * (1 + s))})`;
    g.beginPath(); g.moveTo(px(i - 10), pz(i - 10));
    for (let j = i - 9; j <= i; j++) g.lineTo(px(j), pz(j));
    g.stroke();
  }
}

async function loadChat() {
  const log = $("chat-log"); log.replaceChildren();
  for (const m of await api(`/api/laps/${currentLap.id}/chat`)) {
    const p = document.createElement("p"); p.className = m.role; p.textContent = `${m.role === "user" ? "You" : "Coach"}: ${m.content}`; log.append(p);
  }
  log.scrollTop = log.scrollHeight;
}

$("analyze").onclick = () => analyze(true).catch((e) => { $("gap").textContent = e.message; });
$("chat-form").onsubmit = async (e) => {
  e.preventDefault();
  const message = $("chat-input").value.trim();
  if (!message) return;
  try {
    await api("/api/chat", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ lapId: currentLap.id, message }) });
    $("chat-input").value = "";
  } catch (err) {
    // Shown to the user, never stored as the coach's words.
    const p = document.createElement("p"); p.textContent = `Error: ${err.message}`; $("chat-log").append(p);
  }
  loadChat();
};

loadSessions();
connect();
