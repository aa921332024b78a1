"use strict";
// The Purple Sector dashboard: sessions (/), a session with its laps and live view
// (/sessions/{id}), a lap-analysis workspace (/laps/{id}?against=best|ideal|<lap id>).
// Charts are uPlot (vendored, /assets/vendor/); data comes from the REST API and /ws.

const $ = (id) => document.getElementById(id);
const COLORS = ["#a66cff", "#4fc3f7", "#3ddc84", "#ff8a65"]; // this lap, overlays 1–3
const REF_COLOR = "#f2c14e";
const AXIS = { stroke: "#a49db5", grid: { stroke: "#2c2640", width: 1 }, ticks: { stroke: "#2c2640", width: 1 } };
const DPR = () => window.devicePixelRatio || 1;
// Samples per lap the charts ask for: about the pixels of this screen (the resolution shown).
const POINTS = Math.max(800, Math.min(3000, Math.round(Math.max(window.innerWidth, window.screen.width || 0) * DPR())));

/** A date as every page shows it ("Dec 3, 2026, 7:09 AM" in English). */
function fmtDate(ms) {
  return new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

const fmtLap = (ms) => {
  if (ms == null) return "—";
  ms = Math.round(ms);
  return `${Math.floor(ms / 60000)}:${String(Math.floor(ms / 1000) % 60).padStart(2, "0")}.${String(ms % 1000).padStart(3, "0")}`;
};
const signed = (v, digits) => (v > 0 ? "+" : v < 0 ? "−" : "±") + Math.abs(v).toFixed(digits);
const gearText = (g) => (g == null ? "—" : g === -1 ? "R" : g === 0 ? "N" : String(g));
const ranks = (l) => l.valid && l.kind === "flying" && !l.inProgress && l.lapTimeMs != null;

// ---------------------------------------------------------------- errors, API

function showError(message) {
  const box = $("errors");
  if ([...box.children].some((p) => p.dataset.text === message)) return;
  const close = el("button", { type: "button", class: "small secondary", "aria-label": "Dismiss" }, "×");
  const p = el("p", {}, message, close);
  p.dataset.text = message;
  close.addEventListener("click", () => p.remove());
  box.append(p);
  while (box.children.length > 5) box.firstChild.remove();
}
window.addEventListener("error", (e) => showError(`JavaScript error: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => showError(`Error: ${(e.reason && e.reason.message) || e.reason}`));

async function api(path, options) {
  const res = await fetch(path, options);
  const body = res.status === 204 ? {} : await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(body.error || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return body;
}
const send = (method, body) => ({ method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

// ---------------------------------------------------------------- router

let routeToken = 0;
let page = { kind: null, id: null };

function navigate(url, replace) {
  if (replace || url === location.pathname + location.search) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  route();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest && e.target.closest("a[data-nav]");
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", () => route());

function crumbs(items) {
  $("crumbs").replaceChildren(...items.flatMap((item, i) => [
    i ? el("span", { "aria-hidden": "true" }, "›") : null,
    item.href ? el("a", { href: item.href, "data-nav": true }, item.text) : el("span", {}, item.text),
  ]).filter(Boolean));
}

async function route() {
  const token = ++routeToken;
  for (const p of document.querySelectorAll(".page")) p.hidden = true;
  const path = location.pathname;
  let m;
  try {
    if (path === "/") {
      page = { kind: "home", id: null };
      await renderHome(token);
    } else if ((m = path.match(/^\/sessions\/([1-9][0-9]*)$/))) {
      page = { kind: "session", id: Number(m[1]) };
      await renderSession(page.id, token);
    } else if ((m = path.match(/^\/laps\/([1-9][0-9]*)$/))) {
      page = { kind: "lap", id: Number(m[1]) };
      await renderLap(page.id, token);
    } else {
      missing(`No page at ${path}.`);
    }
  } catch (e) {
    if (token !== routeToken) return;
    if (e.status === 404) missing(e.message);
    else showError(e.message);
  }
  labelStart();
}

/** On a session's page the demo records into that session; elsewhere into a new one. */
function labelStart() {
  const here = page.kind === "session";
  $("start").textContent = here ? "Start demo here" : "Start demo";
  $("start").title = here ? "Record the built-in game into this session" : "Record the built-in game into a new session";
}

function missing(text) {
  page = { kind: "missing", id: null };
  for (const p of document.querySelectorAll(".page")) p.hidden = true;
  crumbs([]);
  $("missing-text").textContent = text;
  $("missing").hidden = false;
  document.title = "Not found — Purple Sector";
}

// ---------------------------------------------------------------- home: sessions

let sessionList = [];
let editing = null;

async function renderHome(token) {
  const list = await api("/api/sessions");
  if (token !== routeToken) return;
  sessionList = list;
  crumbs([{ text: "Sessions" }]);
  document.title = "Sessions — Purple Sector";
  drawSessions();
  $("home").hidden = false;
}

function drawSessions() {
  const showArchived = $("show-archived").checked;
  const rows = [...sessionList]
    .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id)
    .filter((s) => showArchived || s.status !== "archived")
    .map((s) => {
      const href = `/sessions/${s.id}`;
      const tags = s.tags.map((t) => el("span", { class: "badge" }, t));
      const archived = s.status === "archived";
      return el("tr", { class: archived ? "archived" : null, "data-id": s.id },
        el("td", {}, fmtDate(s.createdAt)),
        el("td", {}, el("a", { href, "data-nav": true }, s.name), " ", ...tags),
        el("td", {}, [s.track, s.trackConfig].filter(Boolean).join(" / ") || "—"),
        el("td", {}, s.car || "—"),
        el("td", { "data-label": "laps" }, String(s.lapCount ?? "—")),
        el("td", { "data-label": "best" }, fmtLap(s.bestLapTimeMs)),
        el("td", { class: `status-${s.status}` }, s.status),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "small secondary", "data-action": "edit", "data-id": s.id }, "Rename / tag"),
          el("button", { type: "button", class: "small secondary", "data-action": archived ? "unarchive" : "archive", "data-id": s.id }, archived ? "Unarchive" : "Archive"),
          el("button", { type: "button", class: "small danger", "data-action": "delete", "data-id": s.id }, "Delete")));
    });
  $("sessions").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 8, class: "empty" }, "No sessions yet: create one, or start the demo."))]));
}

$("show-archived").addEventListener("change", drawSessions);

$("sessions").addEventListener("click", async (e) => {
  const b = e.target.closest("button[data-action]");
  if (!b) return;
  const id = Number(b.dataset.id);
  const s = sessionList.find((x) => x.id === id);
  try {
    if (b.dataset.action === "edit" && s) {
      editing = id;
      $("edit-title").textContent = `Edit session #${id}`;
      $("edit-name").value = s.name;
      $("edit-tags").value = s.tags.join(", ");
      $("edit-session").hidden = false;
      $("edit-name").focus();
      return;
    }
    if (b.dataset.action === "archive") await api(`/api/sessions/${id}`, send("PATCH", { status: "archived" }));
    if (b.dataset.action === "unarchive") await api(`/api/sessions/${id}`, send("PATCH", { status: "completed" }));
    if (b.dataset.action === "delete") {
      // Two steps, no dialog: the first click arms the button.
      if (b.dataset.armed !== "1") {
        b.dataset.armed = "1";
        b.textContent = "Confirm delete";
        setTimeout(() => { b.dataset.armed = ""; b.textContent = "Delete"; }, 4000);
        return;
      }
      await api(`/api/sessions/${id}`, { method: "DELETE" });
    }
    await renderHome(routeToken);
  } catch (err) {
    showError(`Session #${id}: ${err.message}`);
  }
});

const parseTags = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

$("edit-session").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api(`/api/sessions/${editing}`, send("PATCH", { name: $("edit-name").value, tags: parseTags($("edit-tags").value) }));
    $("edit-session").hidden = true;
    await renderHome(routeToken);
  } catch (err) {
    showError(`Session #${editing}: ${err.message}`);
  }
});
$("edit-cancel").addEventListener("click", () => { $("edit-session").hidden = true; });

$("new-session").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const s = await api("/api/sessions", send("POST", { name: $("new-name").value, source: $("new-source").value, tags: parseTags($("new-tags").value) }));
    $("new-name").value = ""; $("new-tags").value = "";
    navigate(`/sessions/${s.id}`);
  } catch (err) {
    showError(`New session: ${err.message}`);
  }
});

// ---------------------------------------------------------------- session page

let sessionView = null; // { session, laps }

async function renderSession(id, token) {
  const s = await api(`/api/sessions/${id}`);
  if (token !== routeToken) return;
  sessionView = { session: s, laps: s.laps || [] };
  crumbs([{ text: "Sessions", href: "/" }, { text: s.name }]);
  document.title = `${s.name} — Purple Sector`;
  $("session-title").textContent = s.name;
  drawSessionMeta();
  drawLaps();
  $("session").hidden = false;
  const recording = live.session === id && live.recording;
  $("live").hidden = !(recording || s.status === "active");
  if (!$("live").hidden) {
    ensureLiveCharts();
    loadLiveReference();
  }
}

function drawSessionMeta() {
  const s = sessionView.session;
  const parts = [fmtDate(s.createdAt), [s.track, s.trackConfig].filter(Boolean).join(" / "), s.car, s.driver, `${s.source}`, `status: ${s.status}`];
  $("session-meta").textContent = parts.filter(Boolean).join(" · ") + (s.tags.length ? ` · tags: ${s.tags.join(", ")}` : "");
}

function drawLaps() {
  const laps = [...sessionView.laps].sort((a, b) => a.lapNumber - b.lapNumber || a.id - b.id);
  const best = laps.filter(ranks).reduce((b, l) => (!b || l.lapTimeMs < b.lapTimeMs ? l : b), null);
  const rows = laps.map((lap) => el("tr", {
    "data-href": `/laps/${lap.id}`, "data-lap-id": lap.id, tabindex: 0,
    class: [best && best.id === lap.id ? "best" : "", lap.id === lastOpenedLap ? "selected" : ""].join(" ").trim() || null,
    "aria-label": `Lap ${lap.lapNumber}`,
  },
  el("td", {}, String(lap.lapNumber)),
  el("td", {}, lap.kind + (lap.inProgress ? " (in progress)" : "")),
  el("td", {}, lap.valid ? "valid" : `invalid${lap.invalidReason ? ": " + lap.invalidReason : ""}`),
  el("td", {}, fmtLap(lap.lapTimeMs)),
  el("td", {}, lap.lapTimeSource || "—")));
  $("laps").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5, class: "empty" }, "No laps yet."))]));
}

let lastOpenedLap = null;
function openRow(tr) {
  if (!tr || !tr.dataset.href) return;
  lastOpenedLap = Number(tr.dataset.lapId);
  navigate(tr.dataset.href);
}
$("laps").addEventListener("click", (e) => openRow(e.target.closest("tr")));
$("laps").addEventListener("keydown", (e) => { if (e.key === "Enter") openRow(e.target.closest("tr")); });

// ---------------------------------------------------------------- live

const LIVE_CELLS = 1000;
const live = {
  session: null, recording: false, pendingDemo: false, frames: 0, lastPos: null,
  lengthM: null, ref: null, refLapId: null, chart: null, steer: null, dirty: false,
  speed: [], gas: [], brake: [], steerDeg: [],
};

function liveReset() {
  for (const k of ["speed", "gas", "brake", "steerDeg"]) live[k] = new Array(LIVE_CELLS).fill(null);
}
liveReset();

function liveXs() {
  return Array.from({ length: LIVE_CELLS }, (_, i) => (live.lengthM ? (i * live.lengthM) / (LIVE_CELLS - 1) : (i * 100) / (LIVE_CELLS - 1)));
}

function liveRefSeries(channel) {
  if (!live.ref) return new Array(LIVE_CELLS).fill(null);
  const sampler = resampler(live.ref, Array.from({ length: LIVE_CELLS }, (_, i) => i / (LIVE_CELLS - 1)));
  return sampler(channel);
}

function ensureLiveCharts() {
  const box = $("live-chart");
  const width = Math.max(280, box.clientWidth || 600);
  if (live.chart && live.chart.width === width && live.chartLength === live.lengthM) return;
  for (const c of [live.chart, live.steer]) if (c) c.destroy();
  live.chartLength = live.lengthM;
  const xLabel = live.lengthM ? "Lap distance (m)" : "Lap (% of distance)";
  const x = { label: xLabel, value: (u, v) => (v == null ? "—" : live.lengthM ? `${v.toFixed(0)} m` : `${v.toFixed(1)} %`) };
  const common = (height) => ({ width, height, cursor: { drag: { x: false, y: false } }, legend: { live: true } });
  live.chart = new uPlot({
    ...common(230),
    scales: { x: { time: false }, kmh: { auto: true }, pct: { range: [0, 100] } },
    axes: [{ ...AXIS, label: xLabel, size: 40 }, { ...AXIS, scale: "kmh", label: "Speed (km/h)" }, { ...AXIS, scale: "pct", side: 1, label: "Pedal (%)", grid: { show: false } }],
    series: [x,
      { label: "Reference speed", scale: "kmh", stroke: REF_COLOR, width: 1.25, value: (u, v) => (v == null ? "—" : `${v.toFixed(0)} km/h`) },
      { label: "Speed", scale: "kmh", stroke: COLORS[0], width: 2, spanGaps: true, value: (u, v) => (v == null ? "—" : `${v.toFixed(0)} km/h`) },
      { label: "Throttle", scale: "pct", stroke: "#3ddc84", width: 1.25, spanGaps: true, value: (u, v) => (v == null ? "—" : `${v.toFixed(0)} %`) },
      { label: "Brake", scale: "pct", stroke: "#ff5c7a", width: 1.25, spanGaps: true, value: (u, v) => (v == null ? "—" : `${v.toFixed(0)} %`) }],
  }, liveData(), box);
  live.steer = new uPlot({
    ...common(150),
    scales: { x: { time: false }, y: { range: (u, lo, hi) => { const m = Math.max(30, Math.abs(lo || 0), Math.abs(hi || 0)); return [-m, m]; } } },
    axes: [{ ...AXIS, label: xLabel, size: 40 }, { ...AXIS, label: "Steer ° L− R+" }],
    series: [x,
      { label: "Reference steering", stroke: REF_COLOR, width: 1.25, value: (u, v) => (v == null ? "—" : `${v.toFixed(0)}°`) },
      { label: "Steering", stroke: COLORS[0], width: 2, spanGaps: true, value: (u, v) => (v == null ? "—" : `${v.toFixed(0)}°`) }],
  }, liveSteerData(), $("live-steer"));
}

const liveData = () => [liveXs(), liveRefSeries("speedKmh"), live.speed, live.gas, live.brake].map((a, i) => (i === 3 || i === 4 ? a.map((v) => (v == null ? null : v * 100)) : a));
const liveSteerData = () => [liveXs(), liveRefSeries("steerDeg"), live.steerDeg];

function liveRedraw() {
  if (!live.dirty) return;
  live.dirty = false;
  if ($("live").hidden || !live.chart) return;
  live.chart.setData(liveData(), true);
  live.steer.setData(liveSteerData(), true);
}

async function loadLiveReference() {
  const laps = sessionView && page.kind === "session" ? sessionView.laps : [];
  const any = laps.find((l) => !l.inProgress) || laps[0];
  if (!any) { $("live-ref").textContent = "the best lap (none yet)"; return; }
  const pool = await api(`/api/laps/${any.id}/comparable`);
  const best = pool.filter(ranks).reduce((b, l) => (!b || l.lapTimeMs < b.lapTimeMs ? l : b), null);
  if (!best) { $("live-ref").textContent = "the best lap (none yet)"; return; }
  $("live-ref").textContent = `the best lap (lap ${best.lapNumber}, ${fmtLap(best.lapTimeMs)})`;
  if (live.refLapId === best.id) return;
  live.ref = await chartData(best.id);
  live.refLapId = best.id;
  live.lengthM = live.ref.lengthM;
  ensureLiveCharts();
  live.dirty = true;
  liveRedraw();
}

function onFrame(f) {
  live.frames++;
  if (f.sessionId != null && f.sessionId !== live.session) { live.session = f.sessionId; live.recording = true; }
  if (live.pendingDemo && f.sessionId != null) { live.pendingDemo = false; navigate(`/sessions/${f.sessionId}`); }
  const pos = f.normalizedPosition;
  if (pos == null) return;
  if (live.lastPos != null && pos < live.lastPos - 0.5) liveReset();
  live.lastPos = pos;
  const cell = Math.max(0, Math.min(LIVE_CELLS - 1, Math.round(pos * (LIVE_CELLS - 1))));
  live.speed[cell] = f.speed; live.gas[cell] = f.throttle; live.brake[cell] = f.brake; live.steerDeg[cell] = f.steerDeg ?? null;
  live.dirty = true;
  if (page.kind !== "session" || page.id !== f.sessionId) return;
  if ($("live").hidden) { $("live").hidden = false; ensureLiveCharts(); }
  $("live-lap").textContent = f.lapNumber;
  $("live-clock").textContent = fmtLap(f.lapTime);
  $("live-speed").textContent = f.speed.toFixed(0);
  $("live-gear").textContent = gearText(f.gear);
  $("live-frames").textContent = live.frames;
  const d = $("live-delta"), bar = $("live-bar");
  if (f.delta == null) {
    d.textContent = "–"; d.className = ""; bar.style.width = "0"; bar.className = "";
  } else {
    d.textContent = `${signed(f.delta, 2)} s`;
    d.className = f.delta > 0 ? "behind" : "ahead";
    const share = Math.min(1, Math.abs(f.delta) / 2) * 50;
    bar.className = f.delta > 0 ? "behind" : "ahead";
    bar.style.width = `${share}%`;
    bar.style.left = f.delta > 0 ? "50%" : `${50 - share}%`;
  }
}

function onLapCompleted(lap) {
  if (page.kind === "session" && sessionView && page.id === lap.sessionId) {
    sessionView.laps = sessionView.laps.filter((l) => l.id !== lap.id && !(l.inProgress && l.lapNumber === lap.lapNumber));
    sessionView.laps.push(lap);
    drawLaps();
    loadLiveReference().catch((e) => showError(`Live reference: ${e.message}`));
  } else if (page.kind === "home") {
    renderHome(routeToken).catch((e) => showError(e.message));
  }
}

function onSession(data) {
  const started = data.state === "started";
  live.recording = started;
  if (started) {
    live.session = data.id; live.frames = 0; live.lastPos = null; live.ref = null; live.refLapId = null; live.lengthM = null;
    liveReset();
  }
  $("status").textContent = started ? `recording “${data.name}”` : `recording of “${data.name}” ended`;
  if (started && live.pendingDemo) {
    live.pendingDemo = false;
    navigate(`/sessions/${data.id}`);
    return;
  }
  if (page.kind === "session" && page.id === data.id) {
    $("live-state").textContent = started ? "— recording" : "— recording ended";
    renderSession(page.id, routeToken).catch((e) => showError(e.message));
  } else if (page.kind === "home") {
    renderHome(routeToken).catch((e) => showError(e.message));
  }
}

let ws = null;
function connect() {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws?hz=30`);
  ws.addEventListener("open", () => { $("status").textContent = "connected"; });
  ws.addEventListener("close", () => { $("status").textContent = "disconnected, retrying…"; setTimeout(connect, 1000); });
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "telemetry") onFrame(m.data);
    else if (m.type === "lap_completed") onLapCompleted(m.data);
    else if (m.type === "session") onSession(m.data);
    else if (m.type === "connected") live.recording = !!m.recording;
    else if (m.type === "error") { live.pendingDemo = false; showError(`Server: ${m.message}`); }
    else if (m.type === "demo") $("status").textContent = `demo ${m.state}`;
  });
}
$("start").addEventListener("click", () => {
  if (!ws || ws.readyState !== WebSocket.OPEN) { showError("Not connected to the server: cannot start the demo."); return; }
  // On a session's page the demo records into it; elsewhere into a new session, whose page
  // opens once it exists (unless a recording already runs).
  const into = page.kind === "session" ? page.id : null;
  live.pendingDemo = !live.recording && into === null;
  ws.send(JSON.stringify(into === null ? { type: "start_demo" } : { type: "start_demo", sessionId: into }));
});
$("stop").addEventListener("click", () => {
  if (!ws || ws.readyState !== WebSocket.OPEN) { showError("Not connected to the server."); return; }
  ws.send(JSON.stringify({ type: "stop_demo" }));
});
setInterval(liveRedraw, 100);

// ---------------------------------------------------------------- chart data

const chartCache = new Map();
/** A lap's chart columns (`key`: a lap id, or `ideal:<lap id>`), fetched once. */
function chartData(key) {
  if (!chartCache.has(key)) {
    const url = String(key).startsWith("ideal:") ? `/api/laps/${String(key).slice(6)}/ideal/chart?points=${POINTS}` : `/api/laps/${key}/chart?points=${POINTS}`;
    chartCache.set(key, api(url).catch((e) => { chartCache.delete(key); throw e; }));
  }
  return chartCache.get(key);
}

/** Samples `lap`'s channels at the fractions `fracs` of its distance (gear: nearest). */
function resampler(lap, fracs) {
  const d = lap.distanceM, n = lap.count, len = lap.lengthM || d[n - 1] || 1;
  const idx = new Int32Array(fracs.length), w = new Float64Array(fracs.length);
  let j = 0;
  fracs.forEach((f, i) => {
    const target = f * len;
    while (j < n - 2 && d[j + 1] < target) j++;
    if (n < 2 || target <= d[0]) { idx[i] = 0; w[i] = 0; return; }
    if (target >= d[n - 1]) { idx[i] = n - 2; w[i] = 1; return; }
    idx[i] = j;
    const span = d[j + 1] - d[j];
    w[i] = span > 0 ? Math.min(1, Math.max(0, (target - d[j]) / span)) : 0;
  });
  return (channel) => {
    const v = lap[channel];
    if (n < 2) return fracs.map(() => v[0] ?? null);
    if (channel === "gear") return Array.from(idx, (k, i) => v[w[i] < 0.5 ? k : k + 1]);
    return Array.from(idx, (k, i) => v[k] + (v[k + 1] - v[k]) * w[i]);
  };
}

// ---------------------------------------------------------------- lap workspace

const lv = {
  id: null, lap: null, data: null, against: "best", refKey: null, ref: null, refLabel: "",
  overlays: [], analysis: null, charts: [], x: "distance", zoom: null, cursor: null,
  series: null, mapBase: null, mapGeom: null, comparable: [],
};

function lapUrl() {
  const q = new URLSearchParams();
  if (lv.against !== "best") q.set("against", lv.against);
  if (lv.overlays.length) q.set("overlay", lv.overlays.map((o) => o.id).join(","));
  if (lv.x === "time") q.set("x", "time");
  const s = q.toString();
  return `/laps/${lv.id}${s ? "?" + s.replace(/%2C/g, ",") : ""}`;
}

function clearLapView(message) {
  for (const c of lv.charts) c.destroy();
  lv.charts = [];
  $("charts").replaceChildren(message ? el("p", { class: "empty" }, message) : "");
  $("corners").replaceChildren();
  $("suggestions").replaceChildren();
  $("strengths").replaceChildren();
  $("readout").replaceChildren(el("tbody", {}, el("tr", {}, el("td", { class: "dim" }, "Move over a chart."))));
  $("gap").textContent = "";
  $("legend").replaceChildren();
  const c = $("map"); c.getContext("2d").clearRect(0, 0, c.width, c.height);
  lv.mapBase = null;
}

async function renderLap(id, token) {
  const params = new URLSearchParams(location.search);
  const against = params.get("against") || "best";
  lv.id = id; lv.lap = null; lv.data = null; lv.ref = null; lv.refKey = null; lv.analysis = null; lv.zoom = null;
  lv.against = /^(best|ideal|[1-9][0-9]*)$/.test(against) ? against : "best";
  lv.x = params.get("x") === "time" ? "time" : "distance";
  $("xmode").value = lv.x;
  const overlayIds = (params.get("overlay") || "").split(",").filter((s) => /^[1-9][0-9]*$/.test(s)).map(Number).filter((o) => o !== id).slice(0, 3);
  clearLapView("Loading…");
  $("analyze").disabled = false;
  $("lap").hidden = false;
  $("lap-title").textContent = `Lap #${id}`;
  const lap = await api(`/api/laps/${id}`);
  if (token !== routeToken) return;
  lv.lap = lap;
  const [session, comparable] = await Promise.all([api(`/api/sessions/${lap.sessionId}`), api(`/api/laps/${id}/comparable`)]);
  if (token !== routeToken) return;
  lv.comparable = comparable;
  lastOpenedLap = id;
  crumbs([{ text: "Sessions", href: "/" }, { text: session.name, href: `/sessions/${session.id}` }, { text: `Lap ${lap.lapNumber}` }]);
  document.title = `Lap ${lap.lapNumber} — ${session.name} — Purple Sector`;
  $("lap-title").textContent = `Lap ${lap.lapNumber} (${lap.kind}${lap.valid ? "" : ", invalid"}) — ${lap.lapTimeMs == null ? "no lap time" : fmtLap(lap.lapTimeMs)}`;
  $("lap-meta").textContent = [session.name, [session.track, session.trackConfig].filter(Boolean).join(" / "), session.car, session.driver, lap.lapTimeSource ? `time: ${lap.lapTimeSource}` : null].filter(Boolean).join(" · ");
  fillSelects();
  try {
    lv.data = await chartData(id);
  } catch (e) {
    if (token !== routeToken) return;
    clearLapView(`This lap cannot be drawn: ${e.message}`);
    $("analyze").disabled = true;
    return;
  }
  if (token !== routeToken) return;
  lv.overlays = [];
  for (const o of overlayIds) {
    try { lv.overlays.push({ id: o, lap: comparable.find((l) => l.id === o), data: await chartData(o) }); } catch (e) { showError(`Overlay lap #${o}: ${e.message}`); }
  }
  if (token !== routeToken) return;
  fillSelects();
  await applyReference(token, false);
}

function lapName(l) {
  return l ? `lap ${l.lapNumber} · session #${l.sessionId} · ${fmtLap(l.lapTimeMs)}` : "lap";
}

function fillSelects() {
  const ref = $("reference"), ov = $("overlay");
  for (const o of [...ref.options].slice(2)) o.remove();
  for (const o of [...ov.options].slice(1)) o.remove();
  for (const l of lv.comparable) {
    if (l.id === lv.id || l.inProgress) continue;
    if (l.lapTimeMs != null) ref.append(el("option", { value: l.id }, lapName(l)));
    if (l.lapTimeMs != null && !lv.overlays.some((o) => o.id === l.id)) ov.append(el("option", { value: l.id }, lapName(l)));
  }
  if (![...ref.options].some((o) => o.value === lv.against)) ref.append(el("option", { value: lv.against }, `lap #${lv.against}`));
  ref.value = lv.against;
  ov.disabled = lv.overlays.length >= 3;
}

/** Analyses against the chosen reference and draws it; fetches only a lap not yet here. */
async function applyReference(token, force) {
  const body = lv.against === "best" || lv.against === "ideal" ? { against: lv.against } : { referenceLapId: Number(lv.against) };
  body.forceReanalyze = force;
  $("gap").textContent = "Analysing…";
  $("gap").className = "gap";
  let a = null;
  try {
    a = await api(`/api/laps/${lv.id}/analyze`, send("POST", body));
  } catch (e) {
    if (token !== routeToken) return;
    lv.analysis = null; lv.ref = null; lv.refKey = null;
    $("gap").textContent = `No analysis: ${e.message}`;
    $("gap").className = "gap behind";
    drawLapCharts();
    drawAnalysis();
    return;
  }
  if (token !== routeToken) return;
  lv.analysis = a;
  lv.refKey = lv.against === "ideal" ? `ideal:${lv.id}` : a.referenceLapId;
  try {
    lv.ref = await chartData(lv.refKey);
  } catch (e) {
    lv.ref = null;
    showError(`Reference: ${e.message}`);
  }
  if (token !== routeToken) return;
  const refLap = lv.comparable.find((l) => l.id === a.referenceLapId);
  lv.refLabel = lv.against === "ideal" ? `the ideal lap (${fmtLap(lv.ref && lv.ref.lapTimeMs)})` : `${lapName(refLap) || "lap #" + a.referenceLapId}`;
  const gap = a.analysis.gap_s;
  $("gap").textContent = `${signed(gap, 3)} s against ${lv.refLabel} — ${a.engine}`;
  $("gap").className = `gap ${gap > 0 ? "behind" : "ahead"}`;
  drawLapCharts();
  drawAnalysis();
}

// Series sets: this lap, the reference, the overlays — each sampled on this lap's grid.
function buildSeries() {
  const base = lv.data, n = base.count;
  const fracs = base.distanceM.map((d) => d / (base.lengthM || 1));
  const laps = [{ key: "lap", label: `Lap ${lv.lap.lapNumber}`, color: COLORS[0], cls: "sw-0", get: (c) => base[c], width: 2 }];
  if (lv.ref) {
    const s = resampler(lv.ref, fracs);
    const refLap = lv.comparable.find((l) => l.id === lv.ref.lapId);
    laps.push({ key: "ref", label: lv.against === "ideal" ? "Ideal" : `Ref lap ${refLap ? refLap.lapNumber : "#" + lv.ref.lapId}`, color: REF_COLOR, cls: "sw-ref", get: s, width: 1, ref: true });
  }
  lv.overlays.forEach((o, i) => {
    const s = resampler(o.data, fracs);
    laps.push({ key: `o${o.id}`, label: o.lap ? `Lap ${o.lap.lapNumber} (#${o.id})` : `#${o.id}`, color: COLORS[i + 1], cls: `sw-${i + 1}`, get: s, width: 1.25, overlay: o.id });
  });
  const cache = new Map();
  for (const l of laps) {
    const get = l.get;
    l.col = (c) => { const k = `${l.key}:${c}`; if (!cache.has(k)) cache.set(k, get(c)); return cache.get(k); };
  }
  const ref = laps.find((l) => l.ref);
  for (const l of laps) {
    if (l.ref || !ref) continue;
    const t = l.col("timeS"), rt = ref.col("timeS"), sp = l.col("speedKmh"), rs = ref.col("speedKmh");
    l.delta = Array.from({ length: n }, (_, i) => t[i] - rt[i]);
    l.speedDelta = Array.from({ length: n }, (_, i) => sp[i] - rs[i]);
  }
  return { laps, xs: lv.x === "time" ? base.timeS : base.distanceM, n };
}

/** This lap's x value at `metres` from the line (its distance, or its clock there). */
function xAt(metres) {
  const base = lv.data;
  if (lv.x !== "time") return metres;
  const d = base.distanceM;
  let i = d.findIndex((v) => v >= metres);
  if (i < 0) return base.timeS[base.count - 1];
  if (i === 0) return base.timeS[0];
  const f = (metres - d[i - 1]) / (d[i] - d[i - 1] || 1);
  return base.timeS[i - 1] + f * (base.timeS[i] - base.timeS[i - 1]);
}

/** Corners on this lap's distance (the analysis gives them on the reference's length). */
function corners() {
  if (!lv.analysis) return [];
  const scale = (lv.data.lengthM || 1) / (lv.analysis.analysis.track_length_m || lv.data.lengthM || 1);
  return lv.analysis.analysis.corners.map((c) => ({ ...c, startM: c.corner.start_m * scale, endM: c.corner.end_m * scale, apexM: c.corner.apex_m * scale }));
}

const bandsPlugin = () => ({
  hooks: {
    drawClear: [(u) => {
      const ctx = u.ctx, { top, height, left, width } = u.bbox, dpr = DPR();
      ctx.save();
      ctx.beginPath(); ctx.rect(left, top, width, height); ctx.clip();
      ctx.font = `${11 * dpr}px system-ui, sans-serif`;
      ctx.textBaseline = "top";
      // Each band labelled with its corner's name where that fits before the next band's
      // label, else with its id (T7), else not at all: labels never run into each other.
      const bands = corners().map((c) => [u.valToPos(xAt(c.startM), "x", true), u.valToPos(xAt(c.endM), "x", true), c.corner]);
      bands.forEach(([x0, x1, corner], i) => {
        ctx.fillStyle = i % 2 ? "rgba(166,108,255,0.10)" : "rgba(166,108,255,0.16)";
        ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
        const at = x0 + 3 * dpr, room = (i + 1 < bands.length ? bands[i + 1][0] : left + width) - 2 * dpr - at;
        const text = [corner.name, corner.id].find((t) => t && ctx.measureText(t).width <= room);
        if (text) { ctx.fillStyle = "#c9b8e8"; ctx.fillText(text, at, top + 3 * dpr); }
      });
      ctx.restore();
    }],
  },
});

function chartSpecs() {
  const kmh = (v) => (v == null || Number.isNaN(v) ? "—" : `${v.toFixed(1)} km/h`);
  const pct = (v) => (v == null || Number.isNaN(v) ? "—" : `${v.toFixed(0)} %`);
  const deg = (v) => (v == null || Number.isNaN(v) ? "—" : `${v.toFixed(0)}°`);
  const s3 = (v) => (v == null || Number.isNaN(v) ? "—" : `${signed(v, 3)} s`);
  return [
    { title: "Speed", unit: "km/h", height: 210, series: (l) => [{ label: l.label, data: l.col("speedKmh"), fmt: kmh }] },
    { title: "Throttle (solid) and brake (dashed)", unit: "%", height: 160, range: [0, 100], series: (l) => [
      { label: `${l.label} throttle`, data: l.col("gas").map((v) => v * 100), fmt: pct },
      { label: `${l.label} brake`, data: l.col("brake").map((v) => v * 100), fmt: pct, dash: [5, 4] }] },
    { title: "Steering (− left, + right)", unit: "° L− / R+", height: 160, symmetric: true, series: (l) => [{ label: l.label, data: l.col("steerDeg"), fmt: deg }] },
    { title: "Engine speed (solid) and gear (stepped, right axis)", unit: "rpm", height: 170, gear: true, series: (l) => [
      { label: `${l.label} rpm`, data: l.col("rpm"), fmt: (v) => (v == null ? "—" : `${v.toFixed(0)} rpm`) },
      { label: `${l.label} gear`, data: l.col("gear"), fmt: gearText, scale: "gear", stepped: true, dash: [2, 2] }] },
    { title: "Delta to the reference (+ behind, − ahead)", unit: "s", height: 160, symmetric: true, needsRef: true, zero: true, series: (l) => (l.delta ? [{ label: `${l.label} delta`, data: l.delta, fmt: s3 }] : []) },
    { title: "Speed delta to the reference", unit: "km/h", height: 140, symmetric: true, needsRef: true, zero: true, series: (l) => (l.speedDelta ? [{ label: `${l.label} speed Δ`, data: l.speedDelta, fmt: (v) => (v == null ? "—" : `${signed(v, 1)} km/h`) }] : []) },
  ];
}

/** The smallest of 1, 2, 2.5 and 5 times a power of ten that is at least `v` (> 0). */
function roundUp(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((k) => k * p).find((r) => r >= v * (1 - 1e-9));
}

function chartWidth() {
  return Math.max(260, $("charts").clientWidth || 600);
}

function drawLapCharts() {
  for (const c of lv.charts) c.destroy();
  lv.charts = [];
  const box = $("charts");
  box.replaceChildren();
  if (!lv.data) return;
  lv.series = buildSeries();
  const { laps, xs } = lv.series;
  const xLabel = lv.x === "time" ? "Lap time (s)" : "Lap distance (m)";
  const xFmt = (v) => (v == null ? "—" : lv.x === "time" ? `${v.toFixed(2)} s` : `${v.toFixed(0)} m`);
  const width = chartWidth();
  for (const spec of chartSpecs()) {
    if (spec.needsRef && !lv.ref) continue;
    const series = [{ label: lv.x === "time" ? "time" : "distance", value: (u, v) => xFmt(v) }];
    const data = [xs];
    // Overlays underneath, this lap over them, the (thin) reference on top: none hides another.
    const drawOrder = [...laps.filter((l) => l.overlay), ...laps.filter((l) => !l.overlay && !l.ref), ...laps.filter((l) => l.ref)];
    for (const l of drawOrder) {
      for (const s of spec.series(l)) {
        const one = { label: s.label, stroke: l.color, width: l.width, scale: s.scale || "y", value: (u, v) => s.fmt(v) };
        if (s.dash) one.dash = s.dash;
        if (s.stepped) one.paths = uPlot.paths.stepped({ align: 1 });
        series.push(one);
        data.push(s.data);
      }
    }
    const scales = { x: { time: false, ...(lv.zoom ? { min: lv.zoom.min, max: lv.zoom.max } : {}) } };
    if (spec.range) scales.y = { range: spec.range };
    // Symmetric about 0 and rounded up to a round number, so that both ends are ticks: a
    // range just past a tick (±0.91 s) would leave room for the 0 tick alone.
    if (spec.symmetric) scales.y = { range: (u, lo, hi) => { const m = roundUp(Math.max(Math.abs(lo || 0), Math.abs(hi || 0), spec.unit === "s" ? 0.05 : 1) * 1.05); return [-m, m]; } };
    if (spec.gear) scales.gear = { range: [-1, 8] };
    const axes = [
      { ...AXIS, label: xLabel, size: 42, values: (u, vals) => vals.map((v) => (lv.x === "time" ? v.toFixed(0) : v.toFixed(0))) },
      // A short chart's ticks closer together than uPlot's 30 px, so that it has some.
      { ...AXIS, label: spec.unit, size: 56, ...(spec.height < 170 ? { space: 18 } : {}) },
    ];
    // Every gear when the chart is tall enough, else every other one (a step of 1 alone left
    // a short chart with no gear ticks at all).
    if (spec.gear) axes.push({ ...AXIS, scale: "gear", side: 1, label: "gear", size: 36, space: 16, grid: { show: false }, incrs: [1, 2, 3], values: (u, vals) => vals.map(gearText) });
    // The other charts keep the gear axis's room empty, so that a metre is at the same place
    // on every chart.
    else axes.push({ scale: "y", side: 1, label: "", size: 36, stroke: "transparent", grid: { show: false }, ticks: { show: false }, values: (u, vals) => vals.map(() => "") });
    // A lap logged without engine speed (some loggers keep none) reads 0 rpm throughout:
    // say so rather than draw a flat line as if the engine had stopped.
    const noRpm = spec.gear && !laps.filter((l) => !l.ref).some((l) => l.col("rpm").some((v) => v > 0));
    const title = el("h4", { class: "chart-title" }, noRpm ? `${spec.title} — no engine speed recorded in this lap` : spec.title);
    const holder = el("div", { class: "chart", "data-chart": spec.title });
    box.append(title, holder);
    const u = new uPlot({
      width, height: spec.height, series, scales, axes,
      legend: { live: true },
      plugins: [bandsPlugin()],
      cursor: {
        sync: { key: "lap" },
        drag: { x: true, y: false, setScale: false },
        bind: { dblclick: () => () => { resetZoom(); return null; } },
      },
      hooks: {
        setSelect: [(self) => {
          if (self.select.width > 3) {
            const min = self.posToVal(self.select.left, "x"), max = self.posToVal(self.select.left + self.select.width, "x");
            setZoom(min, max);
          }
          self.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        }],
        setCursor: [(self) => onCursor(self.cursor.idx)],
        draw: spec.zero ? [(self) => {
          const y = self.valToPos(0, "y", true), ctx = self.ctx;
          ctx.save(); ctx.strokeStyle = "#8a8499"; ctx.lineWidth = DPR();
          ctx.beginPath(); ctx.moveTo(self.bbox.left, y); ctx.lineTo(self.bbox.left + self.bbox.width, y); ctx.stroke(); ctx.restore();
        }] : [],
      },
    }, data, holder);
    // On a phone the cursor follows the finger (the page still scrolls).
    const touch = (e) => {
      const t = e.touches[0];
      if (!t) return;
      const r = u.over.getBoundingClientRect();
      u.setCursor({ left: t.clientX - r.left, top: t.clientY - r.top });
    };
    u.over.addEventListener("touchstart", touch, { passive: true });
    u.over.addEventListener("touchmove", touch, { passive: true });
    lv.charts.push(u);
  }
  drawLegend();
  drawMap();
}

function setZoom(min, max) {
  if (!(max > min)) return;
  lv.zoom = { min, max };
  for (const c of lv.charts) c.setScale("x", { min, max });
}

function resetZoom() {
  if (!lv.series) return;
  const xs = lv.series.xs;
  lv.zoom = null;
  for (const c of lv.charts) c.setScale("x", { min: xs[0], max: xs[xs.length - 1] });
}

function zoomToMetres(startM, endM) {
  const pad = 40;
  setZoom(xAt(Math.max(0, startM - pad)), xAt(Math.min(lv.data.lengthM, endM + pad)));
  document.querySelector("#charts").scrollIntoView({ block: "nearest" });
}

function drawLegend() {
  const items = (lv.series ? lv.series.laps : []).map((l) => {
    const li = el("li", {}, el("span", { class: `swatch ${l.cls}` }), l.ref ? `Reference: ${lv.refLabel}` : l.overlay ? l.label : `${l.label} (this lap, ${fmtLap(lv.lap.lapTimeMs)})`);
    if (l.overlay) {
      const b = el("button", { type: "button", class: "small secondary", "aria-label": `Remove ${l.label}` }, "×");
      b.addEventListener("click", () => {
        lv.overlays = lv.overlays.filter((o) => o.id !== l.overlay);
        history.replaceState(null, "", lapUrl());
        fillSelects();
        drawLapCharts();
      });
      li.append(b);
    }
    return li;
  });
  $("legend").replaceChildren(...items);
}

function onCursor(idx) {
  if (idx == null || !lv.series || idx === lv.cursor) return;
  lv.cursor = idx;
  const { laps } = lv.series;
  const base = lv.data;
  const num = (v, d, unit) => (v == null || Number.isNaN(v) ? "—" : `${v.toFixed(d)}${unit}`);
  const rows = [
    ["Distance", () => num(base.distanceM[idx], 0, " m"), true],
    ["Time", (l) => num(l.col("timeS")[idx], 3, " s")],
    ["Speed", (l) => num(l.col("speedKmh")[idx], 1, " km/h")],
    ["Throttle", (l) => num(l.col("gas")[idx] * 100, 0, " %")],
    ["Brake", (l) => num(l.col("brake")[idx] * 100, 0, " %")],
    ["Steering", (l) => num(l.col("steerDeg")[idx], 0, "°")],
    ["Gear", (l) => gearText(l.col("gear")[idx])],
    ["RPM", (l) => num(l.col("rpm")[idx], 0, "")],
    ["Delta", (l) => (l.delta ? `${signed(l.delta[idx], 3)} s` : l.ref ? "0" : "—")],
  ];
  const head = el("tr", {}, el("th", {}, ""), ...laps.map((l) => el("th", {}, el("span", { class: `swatch ${l.cls}` }), ` ${l.ref ? "Ref" : l.label}`)));
  const body = rows.map(([name, f, once]) => el("tr", {}, el("th", {}, name), ...laps.map((l, i) => el("td", {}, once && i ? "" : f(l)))));
  $("readout").replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
  drawMapMarker(idx);
}

// ---------------------------------------------------------------- track map

const GAIN = [31, 179, 160], NEUTRAL = [138, 132, 153], LOSS = [255, 85, 51];
const mix = (a, b, t) => `rgb(${a.map((v, i) => Math.round(v + (b[i] - v) * t)).join(",")})`;

function drawMap() {
  const canvas = $("map");
  const css = canvas.clientWidth || 300;
  const dpr = DPR();
  canvas.width = Math.round(css * dpr); canvas.height = Math.round(css * dpr);
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  lv.mapBase = null;
  if (!lv.data || !lv.series) return;
  const { x, z, count: n } = lv.data;
  let minX = Infinity, maxX = -Infinity, minZ = Infinity, maxZ = -Infinity;
  for (let i = 0; i < n; i++) { minX = Math.min(minX, x[i]); maxX = Math.max(maxX, x[i]); minZ = Math.min(minZ, z[i]); maxZ = Math.max(maxZ, z[i]); }
  const span = Math.max(maxX - minX, maxZ - minZ, 1), pad = 28 * dpr, size = canvas.width - 2 * pad;
  const ox = pad + (size - ((maxX - minX) / span) * size) / 2, oz = pad + (size - ((maxZ - minZ) / span) * size) / 2;
  const px = (i) => ox + ((x[i] - minX) / span) * size, pz = (i) => oz + ((z[i] - minZ) / span) * size;
  lv.mapGeom = { px, pz };
  // Loss rate per 100 m over a window either side.
  const lapS = lv.series.laps[0];
  const delta = lapS.delta, d = lv.data.distanceM;
  const rate = new Float64Array(n);
  if (delta) {
    const k = Math.max(1, Math.round(n / 200));
    for (let i = 0; i < n; i++) {
      const a = Math.max(0, i - k), b = Math.min(n - 1, i + k);
      rate[i] = d[b] > d[a] ? ((delta[b] - delta[a]) / (d[b] - d[a])) * 100 : 0;
    }
  }
  const sorted = Array.from(rate, Math.abs).sort((p, q) => p - q);
  const sat = Math.max(0.02, sorted[Math.floor(sorted.length * 0.95)] || 0);
  const labels = document.querySelectorAll(".scale > span");
  labels[0].textContent = delta ? `gain ${sat.toFixed(2)} s/100 m` : "gain";
  labels[2].textContent = delta ? `loss ${sat.toFixed(2)} s/100 m` : "loss (no reference)";
  g.lineCap = "round"; g.lineWidth = 6 * dpr;
  for (let i = 1; i < n; i++) {
    const t = Math.max(-1, Math.min(1, rate[i] / sat));
    g.strokeStyle = t >= 0 ? mix(NEUTRAL, LOSS, t) : mix(NEUTRAL, GAIN, -t);
    g.beginPath(); g.moveTo(px(i - 1), pz(i - 1)); g.lineTo(px(i), pz(i)); g.stroke();
  }
  // Start/finish line across the track, and the direction of travel: where a lap with a time
  // ends, at the line (an out lap starts in the pit lane, its first metres held at the pit
  // box), else where it starts.
  const ended = lv.lap && lv.lap.lapTimeMs != null;
  const s0 = ended ? Math.max(0, n - 4) : 0, s1 = ended ? n - 1 : Math.min(n - 1, 3), sf = ended ? s1 : s0;
  lv.mapGeom.sf = sf;
  let dx = px(s1) - px(s0), dz = pz(s1) - pz(s0);
  const norm = Math.hypot(dx, dz) || 1; dx /= norm; dz /= norm;
  g.strokeStyle = "#ffffff"; g.lineWidth = 3 * dpr; g.lineCap = "butt";
  g.beginPath(); g.moveTo(px(sf) - dz * 12 * dpr, pz(sf) + dx * 12 * dpr); g.lineTo(px(sf) + dz * 12 * dpr, pz(sf) - dx * 12 * dpr); g.stroke();
  g.fillStyle = "#ffffff"; g.font = `${11 * dpr}px system-ui, sans-serif`; g.textAlign = "center"; g.textBaseline = "middle";
  g.fillText("S/F", px(sf) - dz * 24 * dpr, pz(sf) + dx * 24 * dpr);
  const a = Math.min(n - 1, Math.round(n * 0.04)), b = Math.min(n - 1, a + 3);
  let ax = px(b) - px(a), az = pz(b) - pz(a); const an = Math.hypot(ax, az) || 1; ax /= an; az /= an;
  const tipX = px(a) + ax * 8 * dpr, tipZ = pz(a) + az * 8 * dpr;
  g.beginPath(); g.moveTo(tipX, tipZ);
  g.lineTo(tipX - ax * 14 * dpr - az * 7 * dpr, tipZ - az * 14 * dpr + ax * 7 * dpr);
  g.lineTo(tipX - ax * 14 * dpr + az * 7 * dpr, tipZ - az * 14 * dpr - ax * 7 * dpr);
  g.closePath(); g.fill();
  // Corner labels, outside the line: pushed further out while they would overlap a label
  // already placed, and kept inside the canvas.
  const cx = canvas.width / 2, cz = canvas.height / 2;
  g.font = `600 ${11 * dpr}px system-ui, sans-serif`;
  g.fillStyle = "#ece8f5";
  const placed = [], h = 13 * dpr, edge = 3 * dpr;
  const overlaps = (b) => placed.some((p) => b.x0 < p.x1 && p.x0 < b.x1 && b.z0 < p.z1 && p.z0 < b.z1);
  for (const c of corners()) {
    const i = Math.max(0, Math.min(n - 1, d.findIndex((v) => v >= c.apexM)));
    let ux = px(i) - cx, uz = pz(i) - cz; const un = Math.hypot(ux, uz) || 1; ux /= un; uz /= un;
    const w = g.measureText(c.corner.name).width + 4 * dpr;
    let box;
    for (let step = 0; step < 6; step++) {
      const r = (16 + 10 * step) * dpr;
      const x = Math.max(edge + w / 2, Math.min(canvas.width - edge - w / 2, px(i) + ux * r));
      const z = Math.max(edge + h / 2, Math.min(canvas.height - edge - h / 2, pz(i) + uz * r));
      box = { x, z, x0: x - w / 2, x1: x + w / 2, z0: z - h / 2, z1: z + h / 2 };
      if (!overlaps(box)) break;
    }
    placed.push(box);
    g.fillText(c.corner.name, box.x, box.z);
  }
  lv.mapBase = g.getImageData(0, 0, canvas.width, canvas.height);
  if (lv.cursor != null) drawMapMarker(lv.cursor, true);
}

function drawMapMarker(idx) {
  const canvas = $("map");
  if (!lv.mapBase || !lv.mapGeom || idx == null) return;
  const g = canvas.getContext("2d"), dpr = DPR();
  g.putImageData(lv.mapBase, 0, 0);
  g.beginPath();
  g.arc(lv.mapGeom.px(idx), lv.mapGeom.pz(idx), 6 * dpr, 0, Math.PI * 2);
  g.fillStyle = COLORS[0]; g.fill();
  g.lineWidth = 2 * dpr; g.strokeStyle = "#ffffff"; g.stroke();
}

// ---------------------------------------------------------------- analysis, coach

/** Runs `go` when `node` is clicked, or has the focus and Enter is pressed. */
function onActivate(node, go) {
  node.addEventListener("click", go);
  node.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
}

/** Zooms to a suggestion's or a strength's corner, else to 100 m either side of it. */
function zoomToItem(item) {
  const c = corners().find((k) => k.corner.name === item.corner);
  if (c) zoomToMetres(c.startM, c.endM);
  else zoomToMetres(item.distance_m - 100, item.distance_m + 100);
}

/** What a corner explains, down the straight after it too (what the CLI's table and the
 * suggestions give), or without an attribution (an analysis stored before there was one)
 * its window's loss: the rule of the suggestions' `loss_of` in analysis/heuristic.rs. */
const lost = (c) => (c.attributed_loss_s || Object.values(c.phases || {}).some((v) => v !== 0) ? c.attributed_loss_s : c.time_loss_s);

function drawAnalysis() {
  const rows = $("corners"), list = $("suggestions"), strengths = $("strengths");
  rows.replaceChildren(); list.replaceChildren(); strengths.replaceChildren();
  const a = lv.analysis;
  if (!a) {
    rows.append(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No analysis.")));
    loadChat().catch((e) => showError(`Chat: ${e.message}`));
    return;
  }
  const m = (v) => (v == null ? "—" : v.toFixed(0));
  for (const c of corners()) {
    const tr = el("tr", { tabindex: 0, "data-href": "#", "aria-label": `Zoom to ${c.corner.name}` },
      // The id too, which the charts' bands fall back on where the name does not fit.
      el("td", {}, c.corner.name, c.corner.id !== c.corner.name ? el("span", { class: "dim small" }, ` ${c.corner.id}`) : null), el("td", { class: lost(c) > 0 ? "behind" : "ahead", title: `${signed(c.time_loss_s, 3)} s in the corner itself` }, signed(lost(c), 3)),
      el("td", {}, c.lap.min_speed_kmh.toFixed(1)), el("td", {}, c.reference.min_speed_kmh.toFixed(1)),
      el("td", {}, m(c.lap.brake_point_m)), el("td", {}, m(c.reference.brake_point_m)));
    onActivate(tr, () => zoomToMetres(c.startM, c.endM));
    rows.append(tr);
  }
  for (const s of a.suggestions) {
    const li = el("li", { class: "suggestion", tabindex: 0, "data-corner": s.corner || null }, el("span", { class: "sev" }, s.severity), s.message);
    onActivate(li, () => zoomToItem(s));
    list.append(li);
  }
  if (!a.suggestions.length) list.append(el("li", { class: "empty" }, "Nothing to suggest."));
  // The coach's strengths: where the lap gained 0.05 s or more, and what it did.
  const gains = a.strengths || [];
  for (const s of gains) {
    const li = el("li", { tabindex: 0 }, s.message);
    onActivate(li, () => zoomToItem(s));
    strengths.append(li);
  }
  if (!gains.length) strengths.append(el("li", { class: "empty" }, "No gain of 0.05 s or more on the reference."));
  loadChat().catch((e) => showError(`Chat: ${e.message}`));
}

async function loadChat() {
  const id = lv.id;
  const messages = await api(`/api/laps/${id}/chat`);
  if (id !== lv.id) return;
  const log = $("chat-log");
  log.replaceChildren(...messages.map((m) => el("p", { class: m.role }, `${m.role === "user" ? "You" : "Coach"}: ${m.content}`)));
  log.scrollTop = log.scrollHeight;
}

$("chat-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const message = $("chat-input").value.trim();
  if (!message) return;
  const button = e.target.querySelector("button");
  button.disabled = true;
  try {
    await api("/api/chat", send("POST", { lapId: lv.id, message }));
    $("chat-input").value = "";
    await loadChat();
  } catch (err) {
    // Shown to the user, never stored as the coach's words.
    $("chat-log").append(el("p", { class: "error" }, `Error: ${err.message}`));
  } finally {
    button.disabled = false;
  }
});

$("reference").addEventListener("change", () => {
  lv.against = $("reference").value;
  history.replaceState(null, "", lapUrl());
  applyReference(routeToken, false).catch((e) => showError(e.message));
});
$("overlay").addEventListener("change", async () => {
  const id = Number($("overlay").value);
  $("overlay").value = "";
  if (!id || lv.overlays.length >= 3 || lv.overlays.some((o) => o.id === id)) return;
  try {
    const data = await chartData(id);
    lv.overlays.push({ id, lap: lv.comparable.find((l) => l.id === id), data });
    history.replaceState(null, "", lapUrl());
    fillSelects();
    drawLapCharts();
  } catch (err) {
    showError(`Overlay lap #${id}: ${err.message}`);
  }
});
$("xmode").addEventListener("change", () => {
  lv.x = $("xmode").value;
  lv.zoom = null;
  history.replaceState(null, "", lapUrl());
  drawLapCharts();
});
$("reset-zoom").addEventListener("click", resetZoom);
$("analyze").addEventListener("click", () => applyReference(routeToken, true).catch((e) => showError(e.message)));

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    const w = chartWidth();
    for (const c of lv.charts) c.setSize({ width: w, height: c.height });
    if (page.kind === "lap") drawMap();
    if (live.chart) {
      const lw = Math.max(280, $("live-chart").clientWidth || 600);
      live.chart.setSize({ width: lw, height: live.chart.height });
      live.steer.setSize({ width: lw, height: live.steer.height });
    }
  }, 150);
});

route();
connect();
