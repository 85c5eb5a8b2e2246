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
  connect();
  requestAnimationFrame(draw);
  setInterval(() => send({ type: "ping", t: performance.now() }), 1000);
  if (spectator) { $("role").textContent = "spectating"; $("setup").disabled = true; }
}

function option(sel, value, text) {
  const o = document.createElement("option");
  o.value = value; o.textContent = text; sel.appendChild(o); return o;
}

function buildSetup() {
  const slots = $("slots");
  slots.innerHTML = "";
  for (const i of [0, 1]) {
    const label = document.createElement("label");
    label.textContent = `Slot ${i + 1} `;
    const sel = document.createElement("select");
    sel.id = `slot${i}`;
    option(sel, "keyboard", `keyboard (${schema.keymaps[i].name})`);
    option(sel, "gamepad", "gamepad");
    for (const b of schema.bots) option(sel, `bot:${b}`, `bot: ${b}`);
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
    if (sel && document.activeElement !== sel) sel.value = s.source === "bot" ? `bot:${s.bot}` : s.source;
  }
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
    else if (msg.type === "error") console.warn("server:", msg.message);
  };
}

function send(obj) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
}

function onFrame(msg) {
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
window.addEventListener("keydown", (e) => {
  if (e.target && e.target.tagName === "SELECT") return;
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
  const pad = 10;
  const sx = (cv.width - 2 * pad) / (bz.right - bz.left), sy = (cv.height - 2 * pad) / (bz.top - bz.bottom);
  const s = Math.min(sx, sy);
  const ox = cv.width / 2 - ((bz.left + bz.right) / 2) * s, oy = cv.height / 2 + ((bz.top + bz.bottom) / 2) * s;
  const X = (x) => ox + x * s, Y = (y) => oy - y * s;
  g.clearRect(0, 0, cv.width, cv.height);
  // blast zones
  g.setLineDash([6, 6]); g.strokeStyle = "#e8534a55";
  g.strokeRect(X(bz.left), Y(bz.top), (bz.right - bz.left) * s, (bz.top - bz.bottom) * s);
  g.setLineDash([]);
  // main stage and edges
  g.fillStyle = "#39405a";
  g.beginPath();
  g.moveTo(X(-stage.ground_x), Y(stage.ground_y)); g.lineTo(X(0), Y(0)); g.lineTo(X(stage.ground_x), Y(stage.ground_y));
  g.lineTo(X(stage.ground_x * 0.8), Y(-25)); g.lineTo(X(-stage.ground_x * 0.8), Y(-25)); g.closePath(); g.fill();
  g.fillStyle = "#9aa4c8";
  for (const e of [-1, 1]) g.fillRect(X(e * stage.ledge_x) - 2, Y(stage.ground_y) - 2, 4, 4);
  // platforms
  g.strokeStyle = "#9aa4c8"; g.lineWidth = 3;
  for (const p of stage.platforms) { g.beginPath(); g.moveTo(X(p.left), Y(p.y)); g.lineTo(X(p.right), Y(p.y)); g.stroke(); }
  g.lineWidth = 1;
  // items
  for (const it of st.items) {
    g.fillStyle = it.owner === 0 || it.owner === 1 ? COLORS[it.owner] : "#ddd";
    g.beginPath(); g.arc(X(it.x), Y(it.y), 3, 0, 2 * Math.PI); g.fill();
    g.fillStyle = "#aab"; g.font = "9px sans-serif"; g.fillText(`item ${it[schema.draw.item_type]}`, X(it.x) + 4, Y(it.y) - 4);
  }
  // characters
  const d = schema.draw;
  st.players.forEach((p, i) => {
    if (!p.exists) return;
    drawCharacter(g, p, i, X, Y, s, d);
    if (p.follower && p.follower.exists) drawCharacter(g, p.follower, i, X, Y, s, d, true);
  });
  hud(st, latest.stats);
  inspector(st);
}

function drawCharacter(g, p, i, X, Y, s, d, follower = false) {
  const size = schema.character_sizes[String(p[d.character])] || { height: 15, width: 8 };
  const w = size.width * s, h = size.height * s;
  const cx = X(p[d.x]), footY = Y(p[d.y]);
  if (p[d.dead]) {
    g.strokeStyle = COLORS[i]; g.lineWidth = 2;
    g.beginPath(); g.moveTo(cx - 6, footY - 6); g.lineTo(cx + 6, footY + 6); g.moveTo(cx + 6, footY - 6); g.lineTo(cx - 6, footY + 6); g.stroke();
    g.lineWidth = 1;
    return;
  }
  const flash = p[d.hitlag] > 0;
  const blink = p[d.invulnerable] && Math.floor(performance.now() / 100) % 2 === 0;
  g.globalAlpha = blink ? 0.45 : follower ? 0.7 : 1;
  g.fillStyle = flash ? "#ffffff" : COLORS[i];
  g.beginPath();
  g.ellipse(cx, footY - h / 2, w / 2, h / 2, 0, 0, 2 * Math.PI);
  g.fill();
  // facing: an eye and a nose on the side faced
  const dir = p[d.facing] ? 1 : -1;
  g.fillStyle = "#111";
  g.beginPath(); g.arc(cx + dir * w * 0.22, footY - h * 0.7, Math.max(1.5, w * 0.08), 0, 2 * Math.PI); g.fill();
  g.fillStyle = flash ? "#ffffff" : COLORS[i];
  g.beginPath(); g.moveTo(cx + dir * w / 2, footY - h * 0.6); g.lineTo(cx + dir * (w / 2 + 5), footY - h * 0.5);
  g.lineTo(cx + dir * w / 2, footY - h * 0.4); g.fill();
  g.globalAlpha = 1;
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
