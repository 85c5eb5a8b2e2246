// dreamland play page. Every field name, stage shape, character size, bot and key map comes from
// the server (/api/schema); nothing about the game state is hard-coded here.
"use strict";

const params = new URLSearchParams(location.search);
const spectator = params.get("spectate") === "1";
const $ = (id) => document.getElementById(id);
const COLORS = ["#e8534a", "#4a8ee8"];

let schema = null;
let ws = null;
let config = null;          // latest {slots, stage, characters, bots}
let latest = null;          // latest frame message
let lastFrame = -1;
let gaps = 0;               // frames the server sent that never reached this page
const keys = new Set();     // KeyboardEvent.code currently held
const stickState = [null, null];
let drawCount = 0, drawFps = 0, drawT0 = performance.now();
let pingMs = null;
// Input latency: each key change gets a number (seq) sent with the input; the server echoes, in
// every frame, the seq of the input that frame was computed with. The latency of a press is the
// time from the key event to drawing the first frame that used it.
let inputSeq = 0;
let press = null;           // {seq, t, frame} of the latest key change not yet drawn
const latencies = [];       // ms, the most recent presses
window.dreamlandLatency = { last: null, median: null, samples: 0, frame: null };

// ------------------------------------------------------------------ setup
async function main() {
  schema = await (await fetch("/api/schema")).json();
  buildSetup();
  buildKeymap();
  buildInspector();
  buildReplayControls();
  buildReplayPicker();
  connect();
  requestAnimationFrame(draw);
  setInterval(() => send({ type: "ping", t: performance.now() }), 1000);
  if (spectator) {
    $("role").textContent = "spectating";
    for (const id of ["setup", "replays", "replaybox"]) $(id).disabled = true;
  }
}

function option(sel, value, text) {
  const o = document.createElement("option");
  o.value = value; o.textContent = text; sel.appendChild(o); return o;
}

// The bots on offer change with the mode (the "replay" bot exists only beside a replay).
function slotOptions(sel, i, bots) {
  const values = ["keyboard", "gamepad", ...bots.map((b) => `bot:${b}`)];
  if ([...sel.options].map((o) => o.value).join() === values.join()) return;
  sel.innerHTML = "";
  option(sel, "keyboard", `keyboard (${schema.keymaps[i].name})`);
  option(sel, "gamepad", "gamepad");
  for (const b of bots) option(sel, `bot:${b}`, `bot: ${b}`);
}

function buildSetup() {
  const slots = $("slots");
  slots.innerHTML = "";
  for (const i of [0, 1]) {
    const label = document.createElement("label");
    label.textContent = `Slot ${i + 1} `;
    const sel = document.createElement("select");
    sel.id = `slot${i}`;
    slotOptions(sel, i, schema.bots);
    sel.addEventListener("change", (e) => {
      const v = sel.value;
      if (v.startsWith("bot:")) send({ type: "slot", slot: i, source: "bot", bot: v.slice(4) });
      else send({ type: "slot", slot: i, source: v });
      sel.blur();  // arrow keys must drive the game, not this list
    });
    label.appendChild(sel);
    slots.appendChild(label);
  }
  const stage = $("stage");
  for (const s of schema.stages) option(stage, s.id, s.name);
  for (const i of [0, 1]) {
    const sel = $(`char${i}`);
    for (const c of schema.characters) option(sel, c.id, c.name);
  }
  $("restart").addEventListener("click", (e) => {
    send({ type: "restart", stage: Number($("stage").value),
           characters: [Number($("char0").value), Number($("char1").value)] });
    e.target.blur();
  });
}

function applyConfig(c) {
  config = c;
  for (const i of [0, 1]) {
    const s = c.slots[i];
    const sel = $(`slot${i}`);
    if (sel && c.bots) slotOptions(sel, i, c.bots);
    if (sel && document.activeElement !== sel) sel.value = s.source === "bot" ? `bot:${s.bot}` : s.source;
  }
  noteReplayConfig(c);
  if (document.activeElement !== $("stage")) $("stage").value = c.stage;
  for (const i of [0, 1]) if (document.activeElement !== $(`char${i}`)) $(`char${i}`).value = c.characters[i];
}

function keyLabel(code) {
  const arrows = { ArrowUp: "↑", ArrowDown: "↓", ArrowLeft: "←", ArrowRight: "→" };
  if (arrows[code]) return arrows[code];
  return code.replace(/^Key/, "").replace(/^Digit/, "").replace(/^Numpad/, "Num");
}

function buildKeymap() {
  const box = $("keymap");
  let html = "";
  schema.keymaps.forEach((m, i) => {
    html += `<b>Slot ${i + 1}: ${m.name}</b><table>`;
    html += `<tr><td>stick</td><td>${["up", "left", "down", "right"].map((d) => `<kbd>${keyLabel(m.main[d])}</kbd>`).join(" ")}` +
            ` (<kbd>${keyLabel(m.modifier)}</kbd> half)</td></tr>`;
    html += `<tr><td>C-stick</td><td>${["up", "left", "down", "right"].map((d) => `<kbd>${keyLabel(m.c[d])}</kbd>`).join(" ")}</td></tr>`;
    const bs = Object.entries(m.buttons).map(([b, k]) => `${b} <kbd>${keyLabel(k)}</kbd>`).join(" ");
    html += `<tr><td>buttons</td><td>${bs}</td></tr></table>`;
  });
  html += `<p>Gamepads: ${Object.keys(schema.gamepad_mappings).join(", ")} mappings (standard when the browser reports one).</p>`;
  box.innerHTML = html;
}

function buildInspector() {
  const body = document.querySelector("#inspector tbody");
  const names = schema.player_fields.map((f) => f.name).concat(schema.derived_player_fields);
  body.innerHTML = "";
  for (const n of names) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td>${n}</td><td id="p0-${n}"></td><td id="p1-${n}"></td>`;
    body.appendChild(tr);
  }
}

// ------------------------------------------------------------------ connection
function connect() {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws${spectator ? "?spectate=1" : ""}`;
  ws = new WebSocket(url);
  ws.onopen = () => { $("status").textContent = "connected"; $("status").dataset.state = "open"; };
  ws.onclose = () => {
    $("status").textContent = "disconnected: retrying"; $("status").dataset.state = "closed";
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    if (msg.type === "frame") onFrame(msg);
    else if (msg.type === "welcome") { $("role").textContent = msg.role; applyConfig(msg); }
    else if (msg.type === "config") applyConfig(msg);
    else if (msg.type === "pong" && typeof msg.t === "number") pingMs = performance.now() - msg.t;
    else if (msg.type === "opening") noteOpening(msg.path);
    else if (msg.type === "error") showError(msg.message);
  };
}

function send(obj) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
}

function onFrame(msg) {
  if (playback) return;  // a session file is playing: the live game is not shown
  noteDivergence(msg);
  const f = msg.state.frame;
  if (press && press.frame === null && msg.input_seq && msg.input_seq.some((q) => q !== null && q >= press.seq)) {
    press.frame = f;
  }
  if (lastFrame >= 0 && f > lastFrame + 1) gaps += f - lastFrame - 1;
  lastFrame = f;
  latest = msg;
  if (msg.slots) for (const i of [0, 1]) if (config) config.slots[i] = msg.slots[i];
  sendInputs();
}

// ------------------------------------------------------------------ controllers
function clamp01(v) { return Math.max(0, Math.min(1, v)); }

function keyboardController(i) {
  const m = schema.keymaps[i];
  const held = (code) => keys.has(code);
  const amount = held(m.modifier) ? 0.25 : 0.5;
  const axis = (neg, pos) => 0.5 + (held(pos) ? amount : 0) - (held(neg) ? amount : 0);
  const c = { main_x: axis(m.main.left, m.main.right), main_y: axis(m.main.down, m.main.up),
              c_x: axis(m.c.left, m.c.right), c_y: axis(m.c.down, m.c.up), l: 0, r: 0, buttons: [] };
  for (const [b, code] of Object.entries(m.buttons)) if (held(code)) c.buttons.push(b);
  return c;
}

function gamepadFor(slot) {
  const pads = [...(navigator.getGamepads ? navigator.getGamepads() : [])].filter((p) => p);
  if (!pads.length) return null;
  const wanting = [0, 1].filter((i) => config && config.slots[i].source === "gamepad");
  const k = wanting.indexOf(slot);
  return pads[Math.min(k < 0 ? 0 : k, pads.length - 1)];
}

function gamepadController(slot) {
  const pad = gamepadFor(slot);
  const c = { main_x: 0.5, main_y: 0.5, c_x: 0.5, c_y: 0.5, l: 0, r: 0, buttons: [] };
  if (!pad) return c;
  const m = pad.mapping === "standard" ? schema.gamepad_mappings.standard : schema.gamepad_mappings.gamecube;
  const ax = (i) => (i < pad.axes.length ? pad.axes[i] : 0);
  const dz = (v) => (Math.abs(v) < 0.1 ? 0 : v);
  c.main_x = clamp01(0.5 + dz(ax(m.main[0])) / 2); c.main_y = clamp01(0.5 - dz(ax(m.main[1])) / 2);
  c.c_x = clamp01(0.5 + dz(ax(m.c[0])) / 2); c.c_y = clamp01(0.5 - dz(ax(m.c[1])) / 2);
  const btn = (i) => i < pad.buttons.length ? pad.buttons[i] : { pressed: false, value: 0 };
  if (m.l_button !== undefined) { c.l = clamp01(btn(m.l_button).value); c.r = clamp01(btn(m.r_button).value); }
  if (m.l_axis !== undefined) { c.l = clamp01((ax(m.l_axis) + 1) / 2); c.r = clamp01((ax(m.r_axis) + 1) / 2); }
  for (const [b, i] of Object.entries(m.buttons)) if (btn(i).pressed) c.buttons.push(b);
  if (c.l > 0.95 && !c.buttons.includes("L")) c.buttons.push("L");
  if (c.r > 0.95 && !c.buttons.includes("R")) c.buttons.push("R");
  return c;
}

function sendInputs() {
  if (spectator || !config) return;
  for (const i of [0, 1]) {
    const s = config.slots[i];
    if (s.source !== "keyboard" && s.source !== "gamepad") continue;
    const c = s.source === "keyboard" ? keyboardController(i) : gamepadController(i);
    send({ type: "input", slot: i, frame: lastFrame, seq: inputSeq, controller: c });
  }
}

function mappedKey(code) {
  return schema && schema.keymaps.some((m) =>
    Object.values(m.main).includes(code) || Object.values(m.c).includes(code) ||
    Object.values(m.buttons).includes(code) || m.modifier === code);
}
function typing(t) {  // keys meant for a list or a text box, not for the game
  return t && (t.tagName === "SELECT" || (t.tagName === "INPUT" && ["text", "search"].includes(t.type)));
}
window.addEventListener("keydown", (e) => {
  if (typing(e.target)) return;
  if (mappedKey(e.code)) { e.preventDefault(); if (!keys.has(e.code)) { keys.add(e.code); keyChanged(e); } }
});
window.addEventListener("keyup", (e) => {
  if (keys.delete(e.code)) { e.preventDefault(); keyChanged(e); }
});

function keyChanged(e) {
  inputSeq += 1;
  // the event's own timestamp: the press as the browser saw it, before this handler ran
  press = { seq: inputSeq, t: e.timeStamp || performance.now(), frame: null };
  sendInputs();
}

function recordLatency(now) {
  if (!press || press.frame === null || !latest || latest.state.frame < press.frame) return;
  latencies.push(now - press.t);
  if (latencies.length > 50) latencies.shift();
  const sorted = [...latencies].sort((a, b) => a - b);
  window.dreamlandLatency = { last: now - press.t, median: sorted[Math.floor(sorted.length / 2)],
                              samples: latencies.length, frame: press.frame };
  press = null;
  $("latency").textContent = window.dreamlandLatency.last.toFixed(1);
  $("latency50").textContent = window.dreamlandLatency.median.toFixed(1);
}
window.addEventListener("blur", () => { keys.clear(); sendInputs(); });

function showGamepads() {
  const pads = [...(navigator.getGamepads ? navigator.getGamepads() : [])].filter((p) => p);
  if (!pads.length) return;
  $("gamepads").innerHTML = pads.map((p) =>
    `<div><b>${p.index}: ${p.id.slice(0, 40)}</b> (${p.mapping || "no standard mapping"})<br>` +
    `buttons ${p.buttons.map((b, i) => (b.pressed ? i : null)).filter((v) => v !== null).join(",") || "–"} · ` +
    `axes ${p.axes.map((a) => a.toFixed(2)).join(" ")}</div>`).join("");
}

// ------------------------------------------------------------------ drawing
function stageOf(id) { return schema.stages.find((s) => s.id === id) || schema.stages[0]; }

// The camera frames the players like the game does (never past the blast zones), eased so that
// it does not jump; zoomed out to the blast zones when the page is asked to show everything.
const camera = { cx: 0, cy: 40, half: 120, init: false };
const koEffects = [];       // {x, y, t0, color, side}
const wasDead = [false, false];
window.dreamlandPoses = [null, null];

function updateCamera(st, bz, cv) {
  const aspect = cv.width / cv.height;
  let xs = [], ys = [];
  for (const p of st.players) if (p.exists && !p.dead) { xs.push(p.x); ys.push(p.y); }
  if (!xs.length) { xs = [0]; ys = [30]; }
  const minx = Math.min(...xs, -70), maxx = Math.max(...xs, 70);
  const miny = Math.min(...ys, -20), maxy = Math.max(...ys, 60);
  let half = Math.max((maxx - minx) / 2 + 30, ((maxy - miny) / 2 + 30) * aspect);
  half = Math.min(half, (bz.right - bz.left) / 2);
  let cx = (minx + maxx) / 2, cy = (miny + maxy) / 2;
  const halfY = half / aspect;
  cx = Math.max(bz.left + half, Math.min(bz.right - half, cx));
  cy = Math.max(bz.bottom + halfY, Math.min(bz.top - halfY, cy));
  const k = camera.init ? 0.12 : 1;
  camera.cx += (cx - camera.cx) * k; camera.cy += (cy - camera.cy) * k; camera.half += (half - camera.half) * k;
  camera.init = true;
}

function draw() {
  requestAnimationFrame(draw);
  drawCount++;
  const now = performance.now();
  if (now - drawT0 > 1000) { drawFps = drawCount; drawCount = 0; drawT0 = now; showGamepads(); }
  if (!latest) return;
  recordLatency(now);
  const st = latest.state;
  const stage = stageOf(st.stage);
  const cv = $("screen"), g = cv.getContext("2d");
  const bz = stage.blast_zones;
  let s, ox, oy;
  if ($("wide") && $("wide").checked) {
    const pad = 10;
    s = Math.min((cv.width - 2 * pad) / (bz.right - bz.left), (cv.height - 2 * pad) / (bz.top - bz.bottom));
    ox = cv.width / 2 - ((bz.left + bz.right) / 2) * s; oy = cv.height / 2 + ((bz.top + bz.bottom) / 2) * s;
  } else {
    updateCamera(st, bz, cv);
    s = cv.width / (2 * camera.half);
    ox = cv.width / 2 - camera.cx * s; oy = cv.height / 2 + camera.cy * s;
  }
  const X = (x) => ox + x * s, Y = (y) => oy - y * s;
  g.clearRect(0, 0, cv.width, cv.height);
  drawStage(g, stage, X, Y, s, st.frame);
  drawItems(g, st, X, Y, s);
  const d = schema.draw;
  if (latest.ghost) drawGhost(g, latest.ghost, X, Y, s, d);
  st.players.forEach((p, i) => {
    window.dreamlandPoses[i] = p.exists ? p.pose : null;
    noteKo(p, i, bz);
    if (!p.exists) return;
    drawCharacter(g, p, i, X, Y, s, d);
    if (p.follower && p.follower.exists) drawCharacter(g, p.follower, i, X, Y, s, d, true);
  });
  drawKoEffects(g, X, Y, s, now);
  hud(st, latest.stats);
  inspector(st);
  if (typeof drawDivergence === "function") drawDivergence();
}

function drawStage(g, stage, X, Y, s, frame) {
  const bz = stage.blast_zones;
  g.setLineDash([6, 6]); g.strokeStyle = "#e8534a55"; g.lineWidth = 1;
  g.strokeRect(X(bz.left), Y(bz.top), (bz.right - bz.left) * s, (bz.top - bz.bottom) * s);
  g.setLineDash([]);
  // main stage from the server's outline (floor profile, then the underside)
  const grad = g.createLinearGradient(0, Y(stage.ground_y), 0, Y(stage.ground_y - stage.ground_x * 0.35));
  grad.addColorStop(0, "#4a5270"); grad.addColorStop(1, "#1e2233");
  g.fillStyle = grad;
  g.beginPath();
  stage.outline.forEach(([x, y], k) => (k ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y))));
  g.closePath(); g.fill();
  g.strokeStyle = "#b8c2e8"; g.lineWidth = 2;
  const floorEnd = stage.outline.findIndex(([x], k) => k > 0 && x === stage.ground_x);
  g.beginPath();
  stage.outline.slice(0, floorEnd + 1).forEach(([x, y], k) => (k ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y))));
  g.stroke();
  g.fillStyle = "#dfe6ff";
  for (const e of [-1, 1]) g.fillRect(X(e * stage.ground_x) - 2, Y(stage.ground_y) - 2, 4, 4);  // ledges
  // platforms; a moving one is drawn where it starts, with an arrow saying it moves
  for (const p of stage.platforms) {
    g.strokeStyle = p.moves ? "#c8b0f0" : "#b8c2e8"; g.lineWidth = Math.max(2, 1.2 * s);
    g.beginPath(); g.moveTo(X(p.left), Y(p.y)); g.lineTo(X(p.right), Y(p.y)); g.stroke();
    if (p.moves) {
      const mx = X((p.left + p.right) / 2), my = Y(p.y);
      g.fillStyle = "#c8b0f0"; g.font = `${Math.max(9, 3 * s)}px sans-serif`; g.textAlign = "center";
      g.fillText("↕", mx, my + Math.max(12, 5 * s)); g.textAlign = "left";
    }
  }
  g.lineWidth = 1;
}

// ---- items, drawn by kind. schema.items maps a type id to {name, kind} (schema/items.py); an id
// not there is "unknown" and labelled by its hex id. Coloured by owner; window.dreamlandItems holds
// what the last drawn frame showed ([{type, kind, name}]), for tests.
window.dreamlandItems = [];

function itemInfo(type) {
  const hex = Number(type).toString(16).toUpperCase().padStart(2, "0");
  return schema.items[String(type)] || { name: `ITEM_0x${hex}`, kind: "unknown" };  // as schema.items.item_name
}

function itemDirection(it) {  // a unit vector on the screen: along the velocity, else the facing
  const vx = it.vel_x || 0, vy = it.vel_y || 0, v = Math.hypot(vx, vy);
  return v > 0.01 ? [vx / v, -vy / v] : [it.facing ? 1 : -1, 0];
}

function line(g, x0, y0, x1, y1) { g.beginPath(); g.moveTo(x0, y0); g.lineTo(x1, y1); g.stroke(); }
function disc(g, x, y, r) { g.beginPath(); g.arc(x, y, r, 0, 2 * Math.PI); g.fill(); }
function ring(g, x, y, r) { g.beginPath(); g.arc(x, y, r, 0, 2 * Math.PI); g.stroke(); }

// kind -> draw(g, x, y, r, color, it): x, y on the screen, r a shot's radius in pixels
const ITEM_DRAW = {
  laser(g, x, y, r, color, it) {       // a short beam trailing behind the shot
    const [dx, dy] = itemDirection(it), L = 5 * r;
    g.strokeStyle = color; g.lineWidth = 3; line(g, x, y, x - dx * L, y - dy * L);
    g.strokeStyle = "#fff"; g.lineWidth = 1; line(g, x, y, x - dx * L * 0.8, y - dy * L * 0.8);
  },
  fireball(g, x, y, r, color) {
    g.fillStyle = "#ff8a3d"; disc(g, x, y, r);
    g.strokeStyle = color; g.lineWidth = 2; ring(g, x, y, r);
  },
  projectile(g, x, y, r, color) {
    g.fillStyle = color; disc(g, x, y, r);
    g.fillStyle = "#fff"; disc(g, x, y, r * 0.45);
  },
  arrow(g, x, y, r, color, it) {       // a shaft with a head, pointing where it flies
    const [dx, dy] = itemDirection(it), L = 4 * r, h = 1.2 * r;
    g.strokeStyle = color; g.lineWidth = 2; line(g, x, y, x - dx * L, y - dy * L);
    line(g, x, y, x - dx * h - dy * h * 0.6, y - dy * h + dx * h * 0.6);
    line(g, x, y, x - dx * h + dy * h * 0.6, y - dy * h - dx * h * 0.6);
  },
  thrown(g, x, y, r, color) {
    g.fillStyle = color; g.fillRect(x - r, y - r, 2 * r, 2 * r);
    g.strokeStyle = "#111"; g.lineWidth = 1; g.strokeRect(x - r, y - r, 2 * r, 2 * r);
  },
  explosive(g, x, y, r, color) {
    g.fillStyle = "#333"; disc(g, x, y, r);
    g.strokeStyle = color; g.lineWidth = 2; ring(g, x, y, r * 1.8);
  },
  container(g, x, y, r, color) {       // a crate
    const h = 1.6 * r;
    g.fillStyle = "#8a6a3a"; g.fillRect(x - h, y - h, 2 * h, 2 * h);
    g.strokeStyle = color; g.lineWidth = 2; g.strokeRect(x - h, y - h, 2 * h, 2 * h);
  },
  item(g, x, y, r, color) {            // a diamond
    const h = 1.4 * r;
    g.fillStyle = color; g.beginPath();
    g.moveTo(x, y - h); g.lineTo(x + h, y); g.lineTo(x, y + h); g.lineTo(x - h, y); g.closePath(); g.fill();
  },
  attached(g, x, y, r, color) {        // part of a move, at the character: faint
    g.strokeStyle = color; g.lineWidth = 1; g.globalAlpha = 0.6; ring(g, x, y, r); g.globalAlpha = 1;
  },
  pokemon(g, x, y, r, color) {
    g.fillStyle = color; disc(g, x, y, 1.5 * r);
    g.strokeStyle = "#111"; g.lineWidth = 1; line(g, x - 1.5 * r, y, x + 1.5 * r, y);
  },
  stage(g, x, y, r, color) {           // a triangle
    const h = 1.6 * r;
    g.fillStyle = "#8c6"; g.beginPath();
    g.moveTo(x, y - h); g.lineTo(x + h, y + h); g.lineTo(x - h, y + h); g.closePath(); g.fill();
    g.strokeStyle = color; g.lineWidth = 1; g.stroke();
  },
  unknown(g, x, y, r, color) { g.fillStyle = color; disc(g, x, y, 3); },
};

function drawItems(g, st, X, Y, s) {
  const drawn = [];
  const r = Math.max(2.5, Math.min(8, 1.5 * s));
  g.font = "9px sans-serif"; g.textAlign = "left";
  for (const it of st.items) {
    const type = it[schema.draw.item_type], info = itemInfo(type);
    const color = it.owner === 0 || it.owner === 1 ? COLORS[it.owner] : "#ddd";
    const x = X(it.x), y = Y(it.y);
    (ITEM_DRAW[info.kind] || ITEM_DRAW.unknown)(g, x, y, r, color, it);
    g.fillStyle = "#aab"; g.fillText(info.name, x + 1.8 * r + 2, y - 1.8 * r);
    drawn.push({ type, kind: info.kind, name: info.name });
  }
  g.lineWidth = 1;
  window.dreamlandItems = drawn;
}

// ---- silhouettes. A body is drawn in units of its height (feet at 0, head at 1, x forward).
function wave(t, period) { return Math.sin((2 * Math.PI * t) / period); }

function skeleton(pose, t) {
  // joints: hip, neck, head, hand front/back, foot front/back; rot: whole-body rotation
  const b = { hip: [0, 0.45], neck: [0, 0.8], head: [0.02, 0.9], hf: [0.12, 0.5], hb: [-0.1, 0.5],
              ff: [0.08, 0], fb: [-0.08, 0], rot: 0, squash: 1 };
  switch (pose) {
    case "walk": { const w = wave(t, 40) * 0.14; b.ff = [w, 0]; b.fb = [-w, 0]; b.hf = [-w, 0.5]; b.hb = [w, 0.5]; break; }
    case "dash": { const w = wave(t, 18) * 0.2; b.neck = [0.14, 0.76]; b.head = [0.2, 0.86]; b.ff = [0.22 + w, 0.04];
      b.fb = [-0.2 - w, 0.1]; b.hf = [-0.15, 0.55]; b.hb = [-0.25, 0.6]; break; }
    case "crouch": b.hip = [0, 0.25]; b.neck = [0.08, 0.52]; b.head = [0.12, 0.6]; b.ff = [0.16, 0]; b.fb = [-0.14, 0];
      b.hf = [0.2, 0.3]; b.hb = [-0.05, 0.3]; b.squash = 0.75; break;
    case "jump": b.ff = [0.12, 0.25]; b.fb = [-0.06, 0.3]; b.hf = [0.15, 0.98]; b.hb = [-0.12, 0.95]; break;
    case "fall": b.ff = [0.12, 0.05]; b.fb = [-0.12, 0.08]; b.hf = [0.25, 0.85]; b.hb = [-0.22, 0.85]; break;
    case "aerial": b.ff = [0.48, 0.35]; b.fb = [-0.05, 0.25]; b.hf = [0.2, 0.7]; b.hb = [-0.25, 0.7]; break;
    case "ground_attack": b.neck = [0.06, 0.8]; b.hf = [0.55, 0.62]; b.hb = [-0.18, 0.5]; b.ff = [0.2, 0]; b.fb = [-0.15, 0]; break;
    case "grab": b.hf = [0.45, 0.55]; b.hb = [0.42, 0.48]; b.ff = [0.12, 0]; b.fb = [-0.12, 0]; break;
    case "shield": b.hip = [0, 0.38]; b.neck = [0.02, 0.7]; b.head = [0.04, 0.8]; b.hf = [0.14, 0.6]; b.hb = [0.1, 0.62];
      b.ff = [0.12, 0]; b.fb = [-0.12, 0]; break;
    case "dodge": b.hip = [0, 0.3]; b.neck = [0.1, 0.55]; b.head = [0.15, 0.62]; b.hf = [0.15, 0.35]; b.hb = [0.1, 0.3]; break;
    case "hitstun": b.neck = [-0.14, 0.76]; b.head = [-0.2, 0.86]; b.hf = [0.25, 0.9]; b.hb = [-0.35, 0.85];
      b.ff = [0.18, 0.05]; b.fb = [-0.05, 0.1]; break;
    case "tumble": b.rot = (t * 0.35) % (2 * Math.PI); b.hf = [0.3, 0.8]; b.hb = [-0.3, 0.75]; b.ff = [0.2, 0.1]; b.fb = [-0.2, 0.05]; break;
    case "down": b.hip = [0, 0.08]; b.neck = [-0.38, 0.1]; b.head = [-0.5, 0.12]; b.hf = [-0.25, 0.02]; b.hb = [-0.3, 0.2];
      b.ff = [0.4, 0.02]; b.fb = [0.35, 0.1]; break;
    case "ledge": b.hip = [-0.05, 0.35]; b.neck = [0.02, 0.72]; b.head = [-0.02, 0.82]; b.hf = [0.15, 1.08]; b.hb = [0.1, 1.05];
      b.ff = [-0.05, 0]; b.fb = [-0.12, 0.02]; break;
    case "special": b.hf = [0.4, 0.7]; b.hb = [0.35, 0.62]; b.ff = [0.14, 0]; b.fb = [-0.12, 0]; break;
    default: { const br = wave(t, 120) * 0.01; b.neck = [0, 0.8 + br]; b.head = [0.02, 0.9 + br]; }
  }
  return b;
}

function limb(g, a, b, w) { g.lineWidth = w; g.beginPath(); g.moveTo(a[0], a[1]); g.lineTo(b[0], b[1]); g.stroke(); }

function drawBody(g, look, pose, t, fill, accent) {
  const k = skeleton(pose, t);
  g.lineCap = "round"; g.lineJoin = "round";
  if (k.rot) { g.translate(0, 0.5); g.rotate(k.rot); g.translate(0, -0.5); }
  const heavy = look.shape === "heavy", thin = look.shape === "flat";
  const limbW = thin ? 0.05 : heavy ? 0.14 : 0.1, torsoW = thin ? 0.08 : heavy ? 0.36 : 0.22;
  if (look.shape === "round") {           // a ball with feet and little arms
    g.fillStyle = accent; g.strokeStyle = accent;
    for (const f of [k.ff, k.fb]) { g.beginPath(); g.ellipse(f[0] * 1.4, Math.max(0.06, f[1] * 0.6), 0.16, 0.08, 0, 0, 2 * Math.PI); g.fill(); }
    g.fillStyle = fill; g.beginPath();
    g.ellipse(0, 0.45 * k.squash, 0.5, 0.45 * k.squash, 0, 0, 2 * Math.PI); g.fill();
    g.strokeStyle = fill; limb(g, [0.3, 0.45], [k.hf[0] * 1.3, k.hf[1] * 0.9], 0.16);
    g.fillStyle = "#111"; g.beginPath(); g.ellipse(0.2, 0.58 * k.squash, 0.04, 0.09, 0, 0, 2 * Math.PI); g.fill();
    return;
  }
  if (look.shape === "quadruped" && ["stand", "walk", "dash", "crouch", "fall", "jump"].includes(pose)) {
    const w = pose === "walk" || pose === "dash" ? wave(t, pose === "dash" ? 12 : 24) * 0.1 : 0;
    g.strokeStyle = accent;
    for (const fx of [0.3, -0.3]) limb(g, [fx, 0.3], [fx + w, 0], 0.1);
    g.fillStyle = fill; g.beginPath(); g.ellipse(0, 0.42, 0.5, 0.26, 0, 0, 2 * Math.PI); g.fill();
    g.beginPath(); g.arc(0.42, 0.68, 0.22, 0, 2 * Math.PI); g.fill();
    g.strokeStyle = fill; limb(g, [0.38, 0.85], [0.3, 1.15], 0.08); limb(g, [0.5, 0.85], [0.62, 1.12], 0.08);  // ears
    g.strokeStyle = accent; limb(g, [-0.45, 0.5], [-0.7, 0.85], 0.08);  // tail
    g.fillStyle = "#111"; g.beginPath(); g.arc(0.52, 0.72, 0.04, 0, 2 * Math.PI); g.fill();
    return;
  }
  g.strokeStyle = accent;
  limb(g, k.hip, k.fb, limbW); limb(g, k.hip, k.ff, limbW);   // legs
  limb(g, k.neck, k.hb, limbW * 0.85);                         // back arm
  g.strokeStyle = fill; limb(g, k.hip, k.neck, torsoW);        // torso
  g.strokeStyle = accent; limb(g, k.neck, k.hf, limbW * 0.85); // front arm
  g.fillStyle = fill; g.beginPath(); g.arc(k.head[0], k.head[1], heavy ? 0.13 : 0.12, 0, 2 * Math.PI); g.fill();
  g.fillStyle = "#111"; g.beginPath(); g.arc(k.head[0] + 0.06, k.head[1] + 0.02, 0.025, 0, 2 * Math.PI); g.fill();
  if (pose === "special") {  // the move's energy in front of the hands
    g.fillStyle = "rgba(255,240,160,0.6)"; g.beginPath(); g.arc(k.hf[0] + 0.1, k.hf[1], 0.12, 0, 2 * Math.PI); g.fill();
  }
}

function drawCharacter(g, p, i, X, Y, s, d, follower = false, ghost = false) {
  const look = schema.looks[String(p[d.character])] || { shape: "biped", body: "#888", accent: "#555", height: 15, width: 8 };
  const h = look.height * s;
  const cx = X(p[d.x]), footY = Y(p[d.y]);
  if (p[d.dead]) return;
  const dir = p[d.facing] ? 1 : -1;
  const flash = p[d.hitlag] > 0;
  const blink = p[d.invulnerable] && Math.floor(performance.now() / 100) % 2 === 0;
  const t = p.state_age !== undefined ? p.state_age : latest.state.frame;
  if (p.pose === "respawn") {  // the halo platform under the feet
    g.fillStyle = "rgba(230,230,255,0.8)";
    g.beginPath(); g.ellipse(cx, footY + 2, look.width * s * 1.2, 3, 0, 0, 2 * Math.PI); g.fill();
  }
  g.save();
  g.globalAlpha = ghost ? 0.35 : blink ? 0.45 : follower ? 0.75 : p.pose === "dodge" ? 0.6 : 1;
  g.translate(cx, footY);
  g.scale(dir * h, -h);
  const fill = ghost ? "#cfd6ff" : flash ? "#ffffff" : look.body;
  const accent = ghost ? "#aab4e8" : flash ? "#ffffff" : look.accent;
  drawBody(g, look, p.pose || "stand", t, fill, accent);
  g.restore();
  g.globalAlpha = 1;
  if (ghost) return;
  // the player's colour: a ring at the feet, as the game's port indicator
  g.strokeStyle = COLORS[i]; g.lineWidth = 2;
  g.beginPath(); g.ellipse(cx, footY, Math.max(4, look.width * s * 0.6), 2.5, 0, 0, 2 * Math.PI); g.stroke();
  g.lineWidth = 1;
  if (p[d.shielding]) {
    const r = (0.35 + 0.65 * Math.max(0, p[d.shield]) / schema.shield_max) * h * 0.75;
    g.fillStyle = i === 0 ? "rgba(232,83,74,0.35)" : "rgba(74,142,232,0.35)";
    g.beginPath(); g.arc(cx, footY - h / 2, r, 0, 2 * Math.PI); g.fill();
  }
  if (!follower) {
    g.fillStyle = "#dde"; g.font = "11px sans-serif"; g.textAlign = "center";
    g.fillText(p[d.action_name], cx, footY - h - 6);
    g.fillStyle = COLORS[i]; g.fillText(`P${i + 1}`, cx, footY - h - 18);
    g.textAlign = "left";
  }
}

function noteKo(p, i, bz) {
  const dead = !!(p.exists && p.dead);
  if (dead && !wasDead[i]) {
    const x = Math.max(bz.left, Math.min(bz.right, p.x)), y = Math.max(bz.bottom, Math.min(bz.top, p.y));
    koEffects.push({ x, y, t0: performance.now(), color: COLORS[i] });
  }
  wasDead[i] = dead;
}

function drawKoEffects(g, X, Y, s, now) {
  for (let k = koEffects.length - 1; k >= 0; k--) {
    const e = koEffects[k], age = (now - e.t0) / 1000;
    if (age > 1.2) { koEffects.splice(k, 1); continue; }
    const r = 20 + age * 260;
    g.save(); g.globalAlpha = Math.max(0, 1 - age / 1.2);
    g.strokeStyle = e.color; g.lineWidth = 6;
    g.beginPath(); g.arc(X(e.x), Y(e.y), r, 0, 2 * Math.PI); g.stroke();
    g.strokeStyle = "#fff"; g.lineWidth = 3;
    for (let a = 0; a < 12; a++) {
      const th = (a / 12) * 2 * Math.PI;
      g.beginPath(); g.moveTo(X(e.x) + Math.cos(th) * r * 0.3, Y(e.y) + Math.sin(th) * r * 0.3);
      g.lineTo(X(e.x) + Math.cos(th) * r, Y(e.y) + Math.sin(th) * r); g.stroke();
    }
    g.restore();
  }
}

function drawGhost(g, ghost, X, Y, s, d) {
  ghost.players.forEach((p, i) => { if (p.exists) drawCharacter(g, p, i, X, Y, s, d, false, true); });
}

function fmtTimer(frames) {
  const secs = Math.ceil(frames / schema.frames_per_second);
  return `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
}

function hud(st, stats) {
  const d = schema.draw;
  st.players.forEach((p, i) => {
    const stocks = Math.max(0, Math.round(p[d.stocks] || 0));
    const dots = Array.from({ length: stocks }, () => `<span class="stock" style="background:${COLORS[i]}"></span>`).join("");
    $(`hud${i}`).innerHTML = `<span style="color:${COLORS[i]}">P${i + 1} ${p.character_name}</span> ` +
      `<span class="pct" id="pct${i}">${Math.round(p[d.percent])}%</span> ${dots}`;
  });
  $("timer").textContent = fmtTimer(st.timer_frames_left);
  const banner = $("banner");
  if (st.game_over) {
    banner.hidden = false;
    banner.textContent = st.winner === null ? "GAME! Draw" : `GAME! Player ${st.winner + 1} wins`;
  } else banner.hidden = true;
  $("frame").textContent = st.frame;
  if (stats) {
    $("fps").textContent = stats.fps; $("ms50").textContent = stats.frame_ms_p50.toFixed(1);
    $("ms99").textContent = stats.frame_ms_p99.toFixed(1); $("msmax").textContent = stats.frame_ms_max.toFixed(1);
    $("late").textContent = stats.late; $("skipped").textContent = stats.skipped;
    $("dropped").textContent = stats.dropped; $("rejected").textContent = stats.rejected;
  }
  $("gaps").textContent = gaps;
  if (stats && stats.model) showModel(stats);
  $("ping").textContent = pingMs === null ? "–" : pingMs.toFixed(1);
  $("drawfps").textContent = drawFps;
}

let modelShown = "";
function showModel(stats) {
  const m = stats.model;
  const share = (p) => (stats.phases && stats.phases[p] ? `${p} ${(100 * stats.phases[p].share).toFixed(0)}%` : "");
  const text = `${m.name} · step ${m.step_mode}${m.dtype ? " " + m.dtype : ""}` +
    (m.parameters ? ` · ${(m.parameters / 1e6).toFixed(1)} M parameters` : "") +
    ` · frame: ${["bots", "model", "rules", "state", "json", "send"].map(share).join(" · ")}` +
    ` · idle ${(100 * (stats.idle_share || 0)).toFixed(0)}%`;
  if (text !== modelShown) { $("model").textContent = text; modelShown = text; }
}

function inspector(st) {
  st.players.forEach((p, i) => {
    for (const [k, v] of Object.entries(p)) {
      const cell = document.getElementById(`p${i}-${k}`);
      if (!cell) continue;
      const text = typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v);
      if (cell.textContent !== text) cell.textContent = text;
    }
  });
}

main();

// ------------------------------------------------------------------ the dream beside reality
// Divergence history (one point per frame received) and the replay controls, shown when frames
// carry a ghost; a saved session is played back here without the server's game.
const divergenceHistory = [];   // {frame, err: [p1, p2], mismatch: [p1, p2]}
let playback = null;            // {frames, k, timer} while a session file plays

let ghostPath = null;           // the replay the divergence history belongs to

function noteDivergence(msg) {
  const gh = msg.ghost || null;
  if ((gh ? gh.path : null) !== ghostPath) {  // another replay, or back to a live game
    divergenceHistory.length = 0;
    ghostPath = gh ? gh.path : null;
    window.dreamlandDivergence = 0;
  }
  if (!gh) return;
  const last = divergenceHistory[divergenceHistory.length - 1];
  if (last && last.frame === gh.frame_id) return;
  if (last && gh.frame_id < last.frame) divergenceHistory.length = 0;  // a seek back: a new run
  divergenceHistory.push({ frame: gh.frame_id, err: gh.divergence.position_error, mismatch: gh.divergence.action_mismatch });
  if (divergenceHistory.length > 600) divergenceHistory.shift();
  window.dreamlandDivergence = divergenceHistory.length;
}

function drawDivergence() {
  const box = $("replaybox");
  const gh = latest && latest.ghost;
  box.hidden = !gh;
  if (!gh) return;
  const cv = $("divergence"), g = cv.getContext("2d");
  g.clearRect(0, 0, cv.width, cv.height);
  const maxErr = Math.max(10, ...divergenceHistory.flatMap((h) => h.err.filter((e) => e !== null)));
  const n = divergenceHistory.length, w = cv.width, h = cv.height - 14;
  [0, 1].forEach((p) => {
    g.strokeStyle = COLORS[p]; g.beginPath();
    divergenceHistory.forEach((d, k) => {
      const x = (k / 600) * w, y = h - ((d.err[p] || 0) / maxErr) * (h - 4);
      k ? g.lineTo(x, y) : g.moveTo(x, y);
      if (d.mismatch[p]) { g.fillStyle = COLORS[p]; g.fillRect(x, h + 2 + p * 6, 1, 5); }
    });
    g.stroke();
  });
  g.fillStyle = "#99a"; g.font = "10px sans-serif";
  g.fillText(`position error (units), max ${maxErr.toFixed(0)}; ticks: action differs`, 4, 10);
  $("ghostframe").textContent = `${gh.frame_id} / ${gh.last_frame_id}${gh.paused ? " (paused)" : ""}`;
  const seek = $("seek");
  if (document.activeElement !== seek) { seek.min = gh.first_frame_id; seek.max = gh.last_frame_id; seek.value = gh.frame_id; }
  if (n && !playback) {
    const e = divergenceHistory[n - 1].err.map((v) => (v === null ? "–" : v.toFixed(1)));
    $("diverr").textContent = e.join(" / ");
  }
}

function buildReplayControls() {
  $("pause").addEventListener("click", (e) => { send({ type: "replay", op: latest && latest.ghost && latest.ghost.paused ? "resume" : "pause" }); e.target.blur(); });
  $("stepbtn").addEventListener("click", (e) => { send({ type: "replay", op: "step" }); e.target.blur(); });
  $("leavereplay").addEventListener("click", (e) => { send({ type: "replay", op: "leave" }); e.target.blur(); });
  $("seek").addEventListener("change", (e) => { send({ type: "replay", op: "seek", frame: Number(e.target.value) }); e.target.blur(); });
  $("sessionfile").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (file) startPlayback(JSON.parse(await file.text()));
    e.target.blur();
  });
}

function startPlayback(session) {
  if (!session || !Array.isArray(session.frames) || !session.frames.length) return;
  if (playback) clearInterval(playback.timer);
  divergenceHistory.length = 0;
  playback = { frames: session.frames, k: 0, timer: null };
  $("status").textContent = `playing back a session (${session.frames.length} frames)`;
  playback.timer = setInterval(() => {
    const f = playback.frames[playback.k];
    latest = { type: "frame", state: f.state, stats: latest ? latest.stats : null, ghost: f.ghost || null };
    noteDivergence(latest);
    window.dreamlandPlayback = { frame: f.state.frame, index: playback.k, total: playback.frames.length };
    playback.k += 1;
    if (playback.k >= playback.frames.length) { clearInterval(playback.timer); $("status").textContent = "session played back"; }
  }, 1000 / (session.fps || 60));
}
window.dreamlandStartPlayback = startPlayback;

// ------------------------------------------------------------------ replays the server offers
// The list comes from /api/replays (the server's --replays folder and --replay file); a replay is
// opened by its key from that list, and the server refuses anything else.
let replayList = [];
let opening = null;             // the key asked for, until the server says it is open or cannot be
let listNote = "";              // what the list holds

function showReplayNote() {
  $("replaynote").textContent = opening !== null ? `opening ${opening}…`
    : config && config.replay ? `watching ${config.replay} (leave it under the game)` : listNote;
}

function pad2(n) { return String(n).padStart(2, "0"); }

function replayLabel(r) {
  if (r.error) return `${r.path} · ${r.error}`;
  const who = (r.players || []).map((p) => (p.code || p.name ? `${p.character} (${p.code || p.name})` : p.character));
  const secs = r.frames ? Math.max(0, Math.round((r.frames - 124) / 60)) : null;  // from frame 0, the timer's start
  const when = (r.start_at || new Date(r.modified * 1000).toISOString()).slice(0, 16).replace("T", " ");
  // the matchup first: it is what a player looks for; the file name is last, and whole on hover
  return [who.join(" vs "), r.stage, secs === null ? null : `${Math.floor(secs / 60)}:${pad2(secs % 60)}`, when, r.path]
    .filter((x) => x).join(" · ");
}

function showReplays() {
  const sel = $("replaylist");
  const chosen = sel.value;
  const words = $("replayfilter").value.toLowerCase().split(/\s+/).filter((w) => w);
  sel.innerHTML = "";
  for (const r of replayList) {
    const label = replayLabel(r);
    if (!words.every((w) => label.toLowerCase().includes(w))) continue;
    const current = config && config.replay === r.path;
    option(sel, r.path, (current ? "▶ " : "") + label).title = label;
  }
  if ([...sel.options].some((o) => o.value === chosen)) sel.value = chosen;
}

async function loadReplays() {
  let body;
  try {
    body = await (await fetch("/api/replays")).json();
  } catch (e) {
    listNote = "could not read the server's replay list";
    showReplayNote();
    return;
  }
  replayList = body.replays;
  showReplays();
  const shown = body.total > body.replays.length ? ` (the newest ${body.replays.length} listed)` : "";
  listNote = body.total ? `${body.total} replay${body.total === 1 ? "" : "s"}${shown}; pick one to watch the model beside it`
    : body.folder ? "no .slp files in the server's replay folder yet"
    : "start the server with --replays DIR to pick replays here";
  showReplayNote();
  window.dreamlandReplays = replayList.length;
}

function openReplay() {
  const key = $("replaylist").value;
  if (!key) return;
  send({ type: "replay", op: "open", path: key });
  $("replaylist").blur();
}

function buildReplayPicker() {
  $("replayfilter").addEventListener("input", showReplays);
  $("replaylist").addEventListener("dblclick", openReplay);
  $("replaylist").addEventListener("keydown", (e) => { if (e.key === "Enter") openReplay(); });
  $("openreplay").addEventListener("click", (e) => { openReplay(); e.target.blur(); });
  $("refreshreplays").addEventListener("click", (e) => { loadReplays(); e.target.blur(); });
  loadReplays();
}

function noteOpening(key) {
  opening = key;
  showReplayNote();
}

function noteReplayConfig(c) {
  if (opening !== null && c.replay === opening) { opening = null; clearNotice(); }
  showReplayNote();
  showReplays();
}

// A server's refusal, on one line at the top of the page; the game goes on behind it.
let noticeTimer = null;
function showError(message) {
  console.warn("server:", message);
  if (opening !== null && message.includes(opening)) { opening = null; showReplayNote(); }
  $("notice").textContent = message;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(clearNotice, 15000);
}
function clearNotice() { $("notice").textContent = ""; }
