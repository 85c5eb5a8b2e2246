"""The web game: a 60 Hz game loop on the server, a page in the browser, a WebSocket between them.

    serve(checkpoint, host="127.0.0.1", port=8000)      # blocking; `dreamland play` calls it

* The game loop (`GameLoop.run`) ticks at a fixed rate with absolute deadlines. Each tick takes the
  latest controller of each slot (a browser's keyboard or gamepad, or a bot), runs one frame of
  the model and the rules in a worker thread (the event loop never runs the model, so it keeps
  receiving inputs and serving clients while the model works), and hands the frame to every
  client. A frame finished after its deadline is counted as late; after a stall of more than one
  frame the loop does not try to catch up in a burst: it counts the ticks it skipped and resyncs.
* Each client has a one-frame mailbox: a client that cannot keep up gets the newest frame and the
  frames it missed are counted as dropped. A slow client never slows the loop.
* Client messages are JSON objects of at most `MAX_MESSAGE_BYTES` (docs/play.md lists them);
  anything else (not JSON, unknown type, bad values, too large) is rejected, logged, answered with
  an error and counted, and the game goes on. Messages above `WS_MAX_BYTES` make aiohttp close
  that one connection. What `play.guard` refuses earlier: a foreign Host or Origin, and messages
  over a client's budget per second (dropped unread; a client that keeps flooding is cut off).
* Spectators connect with `/ws?spectate=1` and only receive frames.
* Replay mode (`play/ghost.py`) starts from the command line or from the page: `/api/replays` lists
  the files this server offers (`play/library.py`), a `replay` message opens one of them by its key
  (read in a thread beside the running game) or leaves it for the live game.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import gc
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from dreamland.model.stepper import step_cache
from dreamland.play import facts, guard
from dreamland.play.bots import BOTS, Bot, make_bot
from dreamland.play.controller import Controller, as_tensor
from dreamland.play.ghost import GhostReplay, Recording, divergence
from dreamland.play.core import BatchedCore, parse_characters, parse_stage
from dreamland.play.library import ReplayEntry, ReplayLibrary
from dreamland.play.state import GameState, neutral_controllers, schema_json
from dreamland.play.timing import PhaseTimes, describe_model
from dreamland.replay.parse import ReplayError
from dreamland.schema import characters as C
from dreamland.model.stepper import step_cache
from dreamland.steppers.load import load_stepper

log = logging.getLogger("dreamland.play.server")

STATIC = Path(__file__).with_name("static")
MAX_MESSAGE_BYTES = 4096  # a client message larger than this is rejected (the connection stays)
WS_MAX_BYTES = 64 * 1024  # larger frames close the connection (aiohttp's limit)
MAX_MESSAGES_PER_SECOND = guard.MAX_MESSAGES_PER_SECOND  # per client; beyond it messages are dropped
REMOTE_SOURCES = ("keyboard", "gamepad")

# Key maps by KeyboardEvent.code (layout independent). Each slot that picks "keyboard" uses the
# map of its number; both can play on one keyboard.
KEYMAPS: list[dict[str, Any]] = [
    {
        "name": "Keyboard 1",
        "main": {"up": "KeyW", "down": "KeyS", "left": "KeyA", "right": "KeyD"},
        "c": {"up": "KeyI", "down": "KeyK", "left": "KeyJ", "right": "KeyL"},
        "modifier": "ShiftLeft",  # half tilt (walk, tilts)
        "buttons": {"A": "KeyF", "B": "KeyG", "X": "Space", "Y": "KeyT", "Z": "KeyR",
                    "L": "KeyQ", "R": "KeyE", "START": "Enter",
                    "D_UP": "Digit1", "D_DOWN": "Digit2", "D_LEFT": "Digit3", "D_RIGHT": "Digit4"},
    },
    {
        "name": "Keyboard 2",
        "main": {"up": "ArrowUp", "down": "ArrowDown", "left": "ArrowLeft", "right": "ArrowRight"},
        "c": {"up": "Numpad8", "down": "Numpad5", "left": "Numpad4", "right": "Numpad6"},
        "modifier": "ShiftRight",
        "buttons": {"A": "Comma", "B": "Period", "X": "Slash", "Y": "Quote", "Z": "Semicolon",
                    "L": "KeyN", "R": "KeyM", "START": "Backspace",
                    "D_UP": "Digit7", "D_DOWN": "Digit8", "D_LEFT": "Digit9", "D_RIGHT": "Digit0"},
    },
]
# Browser Gamepad API: "standard" mapping (Xbox/PlayStation-style pads), and the layout a
# GameCube adapter in PC mode usually reports (no standard mapping; check it in the page's
# gamepad panel, which shows the raw buttons and axes).
GAMEPAD_MAPPINGS: dict[str, dict[str, Any]] = {
    "standard": {"main": [0, 1], "c": [2, 3], "l_button": 6, "r_button": 7,
                 "buttons": {"A": 0, "B": 2, "X": 1, "Y": 3, "Z": 5, "START": 9,
                             "D_UP": 12, "D_DOWN": 13, "D_LEFT": 14, "D_RIGHT": 15}},
    "gamecube": {"main": [0, 1], "c": [5, 2], "l_axis": 3, "r_axis": 4,
                 "buttons": {"A": 1, "B": 2, "X": 0, "Y": 3, "Z": 7, "L": 4, "R": 5, "START": 9,
                             "D_UP": 12, "D_DOWN": 14, "D_LEFT": 15, "D_RIGHT": 13}},
}


class MessageError(ValueError):
    """A client message that is rejected."""


def _slot_setting(name: str) -> tuple[str, str | None]:
    """A slot given by one word (keyboard, gamepad, or a bot's name) as (source, bot)."""
    return (name, None) if name in REMOTE_SOURCES else ("bot", name)


# ---------------------------------------------------------------------------------------------
# Slots and clients


@dataclass
class Slot:
    source: str = "bot"  # keyboard | gamepad | bot
    bot_name: str = "idle"
    bot: Bot | None = None
    owner: int | None = None  # client id for keyboard/gamepad
    controller: torch.Tensor = field(default_factory=lambda: Controller().to_tensor())
    last_input_frame: int = -1
    inputs: int = 0
    input_seq: int | None = None  # the page's number of its latest input, echoed in frames (latency)

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "bot": self.bot_name if self.source == "bot" else None,
                "owner": self.owner}


class Client:
    """One WebSocket connection with a one-frame mailbox."""

    def __init__(self, cid: int, ws: Any, spectator: bool) -> None:
        self.id = cid
        self.ws = ws
        self.spectator = spectator
        self.latest: str | None = None
        self.phases: PhaseTimes | None = None  # records how long each send takes
        self.ready = asyncio.Event()
        self.dropped = 0
        self.sent = 0
        self.limiter = guard.RateLimiter()
        self.log_throttle = guard.LogThrottle()

    def offer(self, message: str) -> None:
        if self.latest is not None:
            self.dropped += 1
        self.latest = message
        self.ready.set()

    async def sender(self) -> None:
        try:
            while True:
                await self.ready.wait()
                self.ready.clear()
                msg, self.latest = self.latest, None
                if msg is None:
                    continue
                if self.ws.closed:
                    return
                t0 = time.perf_counter()
                await self.ws.send_str(msg)
                if self.phases is not None:
                    self.phases.add("send", (time.perf_counter() - t0) * 1000.0)
                self.sent += 1
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            return


class Stats:
    def __init__(self, window: int = 600) -> None:
        self.frame_ms: collections.deque[float] = collections.deque(maxlen=window)
        self.sent_at: collections.deque[float] = collections.deque(maxlen=window)
        self.frames = 0
        self.late = 0
        self.skipped = 0
        self.rejected = 0
        self.throttled = 0  # messages over a client's budget, dropped unread
        self.max_ms = 0.0
        self.started = time.monotonic()

    def record(self, compute_ms: float, now: float) -> None:
        self.frames += 1
        self.frame_ms.append(compute_ms)
        self.sent_at.append(now)
        self.max_ms = max(self.max_ms, compute_ms)

    def snapshot(self, clients: dict[int, Client]) -> dict[str, Any]:
        ms = sorted(list(self.frame_ms))
        cl = list(clients.values())  # one atomic copy: the event loop may add or remove clients

        def pct(p: float) -> float:
            return round(ms[min(len(ms) - 1, int(p * len(ms)))], 3) if ms else 0.0

        now = time.monotonic()
        fps = sum(1 for t in list(self.sent_at) if now - t <= 1.0)
        return {
            "frames": self.frames, "fps": fps, "frame_ms_p50": pct(0.5), "frame_ms_p99": pct(0.99),
            "frame_ms_max": round(self.max_ms, 3), "late": self.late, "skipped": self.skipped,
            "dropped": sum(c.dropped for c in cl), "rejected": self.rejected, "throttled": self.throttled,
            "clients": sum(1 for c in cl if not c.spectator),
            "spectators": sum(1 for c in cl if c.spectator),
        }


# ---------------------------------------------------------------------------------------------
# The game loop


class GameLoop:
    """One game, its slots, the fixed-rate loop, and its clients."""

    def __init__(self, stepper: Any, stage: Any = "battlefield", characters: Sequence[Any] = ("fox", "falco"),
                 slots: Sequence[str] = ("chase", "chase"), fps: float = 60.0,
                 replay: str | None = None, bot_options: dict[str, dict] | None = None,
                 stocks: int = facts.STOCKS, timer_frames: int = facts.GAME_FRAMES,
                 torch_threads: int | None = 1, compile: bool | str = False, dtype: str | None = None,
                 ghost: bool = True, replays: ReplayLibrary | str | Path | None = None) -> None:
        # One intra-op thread: on a small CPU, torch's default (one per core) makes a one-frame
        # step several times slower (docs/play.md).
        # Process-wide; None leaves torch's setting alone.
        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.stepper = load_stepper(stepper, compile=compile, dtype=dtype)
        self.stage = parse_stage(stage)
        self.characters = tuple(C.external_character_id(c) for c in characters)
        parse_characters(self.characters)
        self.fps = fps
        self.replay = replay
        self.bot_options = dict(bot_options or {})
        if replay:
            self.bot_options.setdefault("replay", {"path": replay})
        self.core = BatchedCore(self.stepper, 1, self.stage, self.characters, stocks=stocks, timer_frames=timer_frames)
        # The first step of a compiled model builds it (tens of seconds for the large preset):
        # take it now, before the clock runs, not as 1,600 skipped frames of the first game.
        self.core.step(neutral_controllers(1))
        self.core.reset()
        self.phases = PhaseTimes()
        self.core.phases = self.phases  # after the warm-up step, which is not a frame of the game
        self.model_info = {**describe_model(self.stepper, stepper), "compile_requested": compile or False,
                           "dtype_requested": dtype}
        self._phase_cache: tuple[float, dict[str, Any]] = (0.0, {})
        if getattr(self.stepper, "compile_error", None):  # the game runs, but slower than asked
            log.warning("the compiled step could not be built, so the model steps without it: %s",
                        self.stepper.compile_error)
        # The replays the page may open (play/library.py): a folder's and the --replay file.
        self.replays = (replays if isinstance(replays, ReplayLibrary)
                        else ReplayLibrary(replays, [replay] if replay else []))
        # The live game that "leave replay" comes back to; a slot on the replay's inputs goes back
        # to a bot, since a live game has no replay to follow.
        self.live: dict[str, Any] = {"stage": self.stage, "characters": self.characters,
                                     "slots": [("bot", "chase") if s == "replay" else _slot_setting(s) for s in slots]}
        # With a replay, the game starts from it and the real game is the ghost (play/ghost.py).
        self.replay_key = (self.replays.key_of(replay) or Path(replay).name) if replay and ghost else None
        self.ghost = GhostReplay(replay, self.core.item_slots, label=self.replay_key) if self.replay_key else None
        if self.ghost is not None:
            self._seed_from_ghost()
        self.recording = Recording({"model": self.model_info["name"], "fps": fps, "replay": self.replay_key})
        self.slots = [Slot(), Slot()]
        for i, s in enumerate(slots):
            self._set_source(i, *_slot_setting(s))
        self.clients: dict[int, Client] = {}
        self.next_client = 1
        self.stats = Stats()
        self.state: GameState = self.core.game_state(0)
        self.state_json: dict[str, Any] = self.state.to_json()
        self.pending_restart: dict[str, Any] | None = None
        self.executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dreamland-model")
        # Replays are listed and parsed here, beside the game, which plays on meanwhile.
        self.loader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dreamland-replays")
        self._open_seq = 0  # the latest open, leave or restart; an older replay still loading is dropped
        self.running = False
        self.stall: float = 0.0  # tests: seconds the next frame's computation sleeps

    # --- configuration (event-loop thread)
    def bots_available(self) -> list[str]:
        return [b for b in BOTS if b != "replay" or "replay" in self.bot_options or self.ghost is not None]

    def _set_source(self, slot: int, source: str, bot: str | None, owner: int | None = None) -> None:
        s = self.slots[slot]
        if source == "bot":
            name = bot or "idle"
            if name not in self.bots_available():
                raise MessageError(f"unknown bot {name!r}; bots: {', '.join(self.bots_available())}")
            opts = dict(self.bot_options.get(name, {}))
            if name == "replay":
                opts.setdefault("player", slot)
            # In replay mode the ghost hands this slot the real inputs (`_compute`): no second
            # parse of the file for a bot that would not be asked.
            s.bot = None if name == "replay" and self.ghost is not None else make_bot(name, **opts)
            s.bot_name = name
            s.owner = None
        elif source in REMOTE_SOURCES:
            s.bot = None
            s.owner = owner
        else:
            raise MessageError(f"unknown source {source!r}")
        s.source = source
        s.controller = Controller().to_tensor()

    def config(self) -> dict[str, Any]:
        # A restart is applied at the next frame; clients are told the game they asked for now.
        upcoming = self.pending_restart or {"stage": self.stage, "characters": self.characters}
        return {"type": "config", "slots": [s.describe() for s in self.slots], "stage": upcoming["stage"],
                "characters": list(upcoming["characters"]), "bots": self.bots_available(),
                "replay": upcoming.get("replay", self.replay_key)}

    def restart(self, stage: Any = None, characters: Sequence[Any] | None = None) -> None:
        """A new live game at the next frame; in replay mode this also leaves the replay."""
        sid = parse_stage(stage) if stage is not None else self.stage
        chars = tuple(C.external_character_id(c) for c in characters) if characters is not None else self.characters
        parse_characters(chars)
        self._open_seq += 1  # a replay still loading would replace the game asked for here
        self.pending_restart = {"stage": sid, "characters": chars}
        if self.ghost is not None:
            self.pending_restart.update(ghost=None, replay=None)

    # --- replay mode: entered from the command line or the page, left from the page
    def _handle_replay(self, client: Client, msg: dict) -> dict[str, Any] | None:
        op = msg.get("op")
        if op == "open":
            return self._open_replay(client, msg.get("path"))
        if op == "leave":
            if self.ghost is None and not (self.pending_restart or {}).get("ghost"):
                raise MessageError("not in replay mode")
            self._open_seq += 1
            self.pending_restart = {"stage": self.live["stage"], "characters": self.live["characters"],
                                    "ghost": None, "replay": None}
            self.broadcast_json(self.config())
            return None
        if self.ghost is None:
            raise MessageError("no replay open: pick one in the page's replay list (or start with --replay FILE.slp)")
        try:
            self.ghost.command(str(op), msg.get("frame"))
        except ValueError as exc:
            raise MessageError(str(exc)) from None
        return None

    def _open_replay(self, client: Client, key: Any) -> dict[str, Any]:
        """Check that `key` is one of this server's replays, then load it beside the running game;
        the game changes at the frame after it has loaded (or the client is told why it cannot)."""
        try:
            entry = self.replays.lookup(key)
        except KeyError:
            shown = repr(key[:80]) if isinstance(key, str) else "no path"
            raise MessageError(f"not a replay this server offers: {shown} (its list is /api/replays)") from None
        self._open_seq += 1
        asyncio.ensure_future(self._load_and_enter(client, entry, self._open_seq))
        return {"type": "opening", "path": entry.key}

    async def _load_and_enter(self, client: Client, entry: ReplayEntry, seq: int) -> None:
        try:
            ghost = await asyncio.get_running_loop().run_in_executor(self.loader, self._load_ghost, entry, seq)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is a message, never a dead game
            log.warning("client %d: cannot open replay %s: %s", client.id, entry.key, exc)
            if not client.ws.closed:
                await _safe_send(client.ws, json.dumps(
                    {"type": "error", "message": f"cannot open {entry.key}: {_one_line(exc)}"}))
            return
        if ghost is None or seq != self._open_seq:  # a later open, a leave or a restart came meanwhile
            return
        g = ghost.game
        self.pending_restart = {"stage": g.stage, "characters": tuple(C.internal_to_external(c) for c in g.characters),
                                "ghost": ghost, "replay": entry.key}
        self.broadcast_json(self.config())

    def _load_ghost(self, entry: ReplayEntry, seq: int) -> GhostReplay | None:
        """The replay read and checked off the game's thread: a stage or a character that play
        cannot draw raises here rather than in the middle of a frame. None when another request
        came after this one, so that a burst of opens parses one file, not every one."""
        if seq != self._open_seq:
            return None
        ghost = GhostReplay(entry.path, self.core.item_slots, label=entry.key)
        parse_stage(ghost.game.stage)
        parse_characters([C.internal_to_external(c) for c in ghost.game.characters])
        ghost.seed(self.core.context)
        ghost.real_state()
        return ghost

    def _switch_mode(self, ghost: GhostReplay | None, key: str | None) -> None:
        """Enter replay mode (both slots on the replay's inputs) or leave it (slots still on them go
        back to what they were in the live game). Worker thread, at the start of a frame."""
        if ghost is not None and self.ghost is None:
            self.live = {"stage": self.stage, "characters": self.characters,
                         "slots": [(s.source, s.bot_name if s.source == "bot" else None) for s in self.slots]}
        self.ghost, self.replay_key = ghost, key
        for i, s in enumerate(self.slots):
            if ghost is not None:
                self._set_source(i, "bot", "replay")
            elif s.source == "bot" and s.bot_name == "replay":
                source, bot = self.live["slots"][i]
                self._set_source(i, source, "chase" if bot == "replay" else bot)
        # a session file is one game: the recording starts again with the new one
        self.recording = Recording({**self.recording.meta, "replay": key})

    def _seed_from_ghost(self) -> None:
        assert self.ghost is not None
        self.core.reset(seed=self.ghost.seed(self.core.context))
        g = self.ghost.game
        self.stage = g.stage
        self.characters = tuple(C.internal_to_external(c) for c in g.characters)

    def _ghost_frame(self) -> dict[str, Any] | None:
        if self.ghost is None:
            return None
        real = self.ghost.real_state()
        return {**self.ghost.describe(), "players": [p.to_json() for p in real.players],
                "divergence": divergence(self.state, real)}

    def stats_snapshot(self) -> dict[str, Any]:
        """Frame times and counters (fresh), the model, and the phases' shares (recomputed at most
        four times a second: they are percentiles over 600 frames, sent with every frame)."""
        at, phases = self._phase_cache
        now = time.monotonic()
        if now - at > 0.25:
            phases = self.phases.snapshot(self.fps)
            self._phase_cache = (now, phases)
        return {**self.stats.snapshot(self.clients), "model": self.model_info, **phases}

    # --- one frame (worker thread)
    def _apply_restart(self, restart: dict[str, Any]) -> None:
        """A new game: live, or from a replay when the request carries `ghost` (the replay to
        enter, or None to leave replay mode)."""
        if "ghost" in restart:
            self._switch_mode(restart["ghost"], restart["replay"])
        try:
            if self.ghost is not None:
                self._seed_from_ghost()
        except Exception:  # noqa: BLE001 - checked when loaded; should seeding still fail, play live
            log.exception("replay %s could not seed the model; back to the live game", self.replay_key)
            self._switch_mode(None, None)
            restart = {"stage": self.live["stage"], "characters": self.live["characters"]}
        if self.ghost is None:
            self.stage, self.characters = restart["stage"], restart["characters"]
            self.core.reset(stage=self.stage, characters=self.characters)
        for s in self.slots:
            if s.bot is not None:
                s.bot.reset()
        self.state = self.core.game_state(0)

    def _compute(self, remote: list[torch.Tensor | None], restart: dict[str, Any] | None,
                 input_seq: list[int | None] | None = None) -> str:
        if self.stall:
            time.sleep(self.stall)
            self.stall = 0.0
        if restart is not None:
            self._apply_restart(restart)
        advance = True
        if self.ghost is not None:
            seek = self.ghost.take_seek()
            if seek is not None:
                self.ghost.row = seek
                self._seed_from_ghost()
                self.state = self.core.game_state(0)
            advance = self.ghost.should_advance()
        ctrls = []
        t_bots = time.perf_counter()
        for i, s in enumerate(self.slots):
            if self.ghost is not None and s.source == "bot" and s.bot_name == "replay":
                ctrls.append(self.ghost.real_input(i))
            elif s.bot is not None:
                try:
                    ctrls.append(as_tensor(s.bot(self.state, i)))
                except Exception:  # noqa: BLE001 - a broken bot plays neutral, the game goes on
                    log.exception("bot %s of slot %d failed", s.bot_name, i + 1)
                    ctrls.append(Controller().to_tensor())
            else:
                c = remote[i]
                ctrls.append(c if c is not None else Controller().to_tensor())
        self.phases.add("bots", (time.perf_counter() - t_bots) * 1000.0)
        if advance and not self.state.game_over:
            self.core.step(torch.stack(ctrls)[None])
            if self.ghost is not None:
                self.ghost.advance()
        with self.phases.measure("state"):
            self.state = self.core.game_state(0)
            self.state_json = self.state.to_json()
            ghost = self._ghost_frame()
        if advance:
            self.recording.add(self.state.frame, torch.stack(ctrls), self.state_json, ghost)
        with self.phases.measure("json"):
            return json.dumps({"type": "frame", "state": self.state_json, "stats": self.stats_snapshot(),
                               "slots": [s.describe() for s in self.slots],
                               "input_seq": input_seq or [None, None], "ghost": ghost}, separators=(",", ":"))

    # --- the loop (event-loop thread)
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        dt = 1.0 / self.fps
        self.running = True
        # Everything built so far (the model, the stage, the page's files) lives as long as the
        # game: moved out of the collector's reach, a full collection no longer walks it in the
        # middle of a frame.
        gc.collect()
        gc.freeze()
        deadline = loop.time() + dt
        try:
            while self.running:
                remote = [s.controller if s.source in REMOTE_SOURCES else None for s in self.slots]
                seqs = [s.input_seq if s.source in REMOTE_SOURCES else None for s in self.slots]
                restart, self.pending_restart = self.pending_restart, None
                t0 = time.perf_counter()
                msg = await loop.run_in_executor(self.executor, self._compute, remote, restart, seqs)
                compute_ms = (time.perf_counter() - t0) * 1000.0
                if restart is not None:  # the game now is the one asked for; say so again
                    self.broadcast_json(self.config())
                for c in list(self.clients.values()):
                    c.offer(msg)
                now = loop.time()
                self.stats.record(compute_ms, now)
                if now > deadline:
                    self.stats.late += 1
                    behind = int((now - deadline) / dt)
                    if behind >= 1:  # a stall: resync instead of a burst of catch-up frames
                        self.stats.skipped += behind
                        deadline = now + dt
                    else:
                        deadline += dt
                    await asyncio.sleep(0)
                    continue
                await asyncio.sleep(deadline - now)
                deadline += dt
        finally:
            self.running = False
            gc.unfreeze()

    def stop(self) -> None:
        self.running = False

    def close(self) -> None:
        self.running = False
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.loader.shutdown(wait=False, cancel_futures=True)

    # --- messages (event-loop thread)
    def handle(self, client: Client, text: str) -> dict[str, Any] | None:
        """Apply one client message; returns a reply, or raises MessageError."""
        if len(text) > MAX_MESSAGE_BYTES:
            raise MessageError(f"message too large ({len(text)} bytes, at most {MAX_MESSAGE_BYTES})")
        try:
            msg = json.loads(text)
        except (ValueError, RecursionError):
            raise MessageError("not JSON") from None
        if not isinstance(msg, dict):
            raise MessageError("a message must be a JSON object")
        kind = msg.get("type")
        if kind == "ping":
            t = msg.get("t")
            if t is not None and not guard.json_number(t):
                raise MessageError("t must be a finite number")
            return {"type": "pong", "t": t, "frame": self.state.frame}
        if client.spectator:
            raise MessageError("spectators cannot send game messages")
        if kind == "input":
            slot = self._slot_index(msg)
            s = self.slots[slot]
            if s.source not in REMOTE_SOURCES:
                raise MessageError(f"slot {slot + 1} is played by a bot")
            self._check_owner(slot, client)
            try:
                ctrl = Controller.from_json(msg.get("controller"))
            except ValueError as exc:
                raise MessageError(str(exc)) from None
            frame = msg.get("frame")
            if frame is not None and (isinstance(frame, bool) or not isinstance(frame, int)):
                raise MessageError("frame must be an integer")
            seq = msg.get("seq")
            if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
                raise MessageError("seq must be an integer")
            s.owner = client.id
            s.controller = ctrl.to_tensor()
            s.last_input_frame = frame if frame is not None else -1
            s.input_seq = seq
            s.inputs += 1
            return None
        if kind == "slot":
            slot = self._slot_index(msg)
            source = msg.get("source")
            if source not in REMOTE_SOURCES + ("bot",):
                raise MessageError("source must be keyboard, gamepad or bot")
            bot = msg.get("bot")
            if source == "bot" and not isinstance(bot, str):
                raise MessageError("a bot slot needs a bot name")
            self._check_owner(slot, client)
            self._set_source(slot, source, bot, owner=client.id if source in REMOTE_SOURCES else None)
            self.broadcast_json(self.config())
            return None
        if kind == "replay":
            return self._handle_replay(client, msg)
        if kind == "restart":
            stage, chars = msg.get("stage"), msg.get("characters")
            try:
                if stage is not None and (isinstance(stage, bool) or not isinstance(stage, (int, str))):
                    raise MessageError("stage must be an id or a name")
                if chars is not None and (not isinstance(chars, list) or len(chars) != 2
                                          or not all(isinstance(c, (int, str)) and not isinstance(c, bool) for c in chars)):
                    raise MessageError("characters must be a list of two ids or names")
                self.restart(stage, chars)
            except (KeyError, ValueError) as exc:
                raise MessageError(str(exc.args[0] if exc.args else exc)) from None
            self.broadcast_json(self.config())
            return None
        raise MessageError(f"unknown message type {str(kind)[:40]!r}")

    def _check_owner(self, slot: int, client: Client) -> None:
        """A slot that a client took stays its own until it leaves or hands it to a bot."""
        owner = self.slots[slot].owner
        if owner not in (None, client.id):
            raise MessageError(f"slot {slot + 1} belongs to another client")

    @staticmethod
    def _slot_index(msg: dict) -> int:
        slot = msg.get("slot")
        if isinstance(slot, bool) or slot not in (0, 1):
            raise MessageError("slot must be 0 or 1")
        return int(slot)

    def broadcast_json(self, obj: dict[str, Any]) -> None:
        text = json.dumps(obj)
        for c in list(self.clients.values()):
            if not c.ws.closed:
                asyncio.ensure_future(_safe_send(c.ws, text))

    def disconnect(self, client: Client) -> None:
        self.clients.pop(client.id, None)
        for s in self.slots:
            if s.owner == client.id:
                s.owner = None
                s.controller = Controller().to_tensor()


def _within_budget(game: GameLoop, client: Client) -> bool:
    """Whether a client's message may be handled; one over the budget is dropped unread and
    unanswered, counted, and logged once per interval, so that a flood costs the loop little."""
    if client.limiter.allow():
        return True
    game.stats.throttled += 1
    held = client.log_throttle.ready()
    if client.limiter.abusive:
        log.warning("client %d: over %d messages per second for %d s; disconnected", client.id,
                    MAX_MESSAGES_PER_SECOND, client.limiter.abuse_seconds)
    elif held is not None:
        log.warning("client %d: more than %d messages per second; dropping the excess (%d so far)",
                    client.id, MAX_MESSAGES_PER_SECOND, client.limiter.dropped)
    return False


def _reply(game: GameLoop, client: Client, text: str) -> dict[str, Any] | None:
    """A client message handled: the reply, or an error message; never an exception, so that no
    message can end the connection or the game."""
    try:
        return game.handle(client, text)
    except MessageError as exc:
        reason = str(exc)
    except Exception:  # noqa: BLE001 - a bug must not let one message end the connection
        log.exception("client %d: a message raised", client.id)
        reason = "the server could not handle this message"
    game.stats.rejected += 1
    if client.log_throttle.ready() is not None:
        log.warning("client %d: rejected message: %s (%r)", client.id, reason, text[:80])
    return {"type": "error", "message": reason}


def _one_line(exc: BaseException) -> str:
    """Why a replay did not open, for a client: a parse failure's category and peppi's words
    (not for a file that is no replay at all: those quote its first bytes), a KeyError's message
    without its quotes."""
    if isinstance(exc, ReplayError):
        text = exc.reason if exc.reason == "not a replay" or not exc.detail else f"{exc.reason} ({exc.detail[:120]})"
    elif isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    else:
        text = str(exc)
    lines = text.strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


async def _safe_send(ws: Any, text: str) -> None:
    try:
        await ws.send_str(text)
    except (ConnectionError, RuntimeError):
        pass


# ---------------------------------------------------------------------------------------------
# The web application


async def _serve_client(game: GameLoop, ws, spectator: bool) -> None:
    """One WebSocket client from its welcome to its departure: every message it sends, within its
    budget, answered or applied."""
    from aiohttp import WSMsgType

    client = Client(game.next_client, ws, spectator)
    client.phases = game.phases
    game.next_client += 1
    game.clients[client.id] = client
    sender = asyncio.ensure_future(client.sender())
    await ws.send_str(json.dumps({**game.config(), "type": "welcome", "client": client.id,
                                  "role": "spectator" if spectator else "player"}))
    log.info("client %d connected (%s)", client.id, "spectator" if spectator else "player")
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) and not _within_budget(game, client):
                if client.limiter.abusive:
                    await ws.close(code=1008, message=b"too many messages")
                    break
                await asyncio.sleep(client.limiter.until_next_window())
                continue
            if msg.type == WSMsgType.TEXT:
                reply = _reply(game, client, msg.data)
                if reply is not None:
                    await ws.send_str(json.dumps(reply))
            elif msg.type == WSMsgType.BINARY:
                game.stats.rejected += 1
                if client.log_throttle.ready() is not None:
                    log.warning("client %d: rejected a binary message (%d bytes)", client.id, len(msg.data))
                await ws.send_str(json.dumps({"type": "error", "message": "binary messages are not accepted"}))
            elif msg.type == WSMsgType.ERROR:
                game.stats.rejected += 1
                log.warning("client %d: connection error: %s", client.id, ws.exception())
    finally:
        sender.cancel()
        game.disconnect(client)
        log.info("client %d left", client.id)


def _run_game_with(app, game: GameLoop) -> None:
    """Start the game loop with the application and stop it (and close every client) with it."""
    tasks: list[asyncio.Future] = []

    async def on_startup(app) -> None:
        tasks.append(asyncio.ensure_future(game.run()))

    async def on_cleanup(app) -> None:
        game.stop()
        for task in tasks:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        for c in list(game.clients.values()):
            await c.ws.close()
        game.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)


def create_app(game: GameLoop, allowed_hosts: frozenset[str] | None = None):
    """The aiohttp application; `allowed_hosts` are the names a request's Host (and a browser's
    Origin) may carry (default: the loopback names, see `guard.allowed_hosts`)."""
    from aiohttp import web

    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if not guard.static_name_ok(name):
            raise web.HTTPNotFound()
        path = (STATIC / name).resolve()
        if path.parent != STATIC.resolve() or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "no-store"})

    async def api_schema(request: web.Request) -> web.Response:
        body = schema_json()
        body.update(bots=game.bots_available(), keymaps=KEYMAPS, gamepad_mappings=GAMEPAD_MAPPINGS,
                    sources=list(REMOTE_SOURCES) + ["bot"], max_message_bytes=MAX_MESSAGE_BYTES,
                    fps=game.fps)
        return web.json_response(body)

    async def api_state(request: web.Request) -> web.Response:
        return web.json_response({"state": game.state_json, "config": game.config(),
                                  "stats": game.stats_snapshot()})

    async def api_stats(request: web.Request) -> web.Response:
        return web.json_response(game.stats_snapshot())

    async def api_replays(request: web.Request) -> web.Response:
        # a rescan and header reads: off the event loop, on the thread that opens replays
        body = await asyncio.get_running_loop().run_in_executor(game.loader, game.replays.listing)
        return web.json_response({**body, "current": game.replay_key})

    async def api_session(request: web.Request) -> web.Response:
        body = game.recording.to_text()
        return web.Response(text=body, content_type="application/json",
                            headers={"Content-Disposition": 'attachment; filename="dreamland-session.json"'})

    async def websocket(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=WS_MAX_BYTES, heartbeat=20.0)
        await ws.prepare(request)
        await _serve_client(game, ws, request.query.get("spectate") in ("1", "true", "yes"))
        return ws

    async def favicon(request: web.Request) -> web.Response:
        return web.Response(status=204)

    allowed = allowed_hosts if allowed_hosts is not None else guard.allowed_hosts("127.0.0.1")
    app = web.Application(client_max_size=64 * 1024, middlewares=[guard.middleware(allowed)])
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/api/schema", api_schema)
    app.router.add_get("/api/state", api_state)
    app.router.add_get("/api/stats", api_stats)
    app.router.add_get("/api/session", api_session)
    app.router.add_get("/api/replays", api_replays)
    app.router.add_get("/ws", websocket)

    _run_game_with(app, game)
    return app


class ServerThread:
    """The web game in a background thread (tests, notebooks, benchmarks):

        with ServerThread(GameLoop("toy")) as srv:
            print(srv.url)
    """

    def __init__(self, game: GameLoop, host: str = "127.0.0.1", port: int = 0,
                 allow_hosts: Sequence[str] = ()) -> None:
        self.game, self.host, self.port = game, host, port
        self.allowed_hosts = guard.allowed_hosts(host, allow_hosts)
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="dreamland-server", daemon=True)
        self._error: BaseException | None = None

    def _main(self) -> None:
        from aiohttp import web

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        runner = web.AppRunner(create_app(self.game, self.allowed_hosts), access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, self.host, self.port)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://{self.host}:{port}/"
        except BaseException as exc:  # noqa: BLE001
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._stop = asyncio.Event()
        try:
            loop.run_until_complete(self._stop.wait())
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.close()

    def start(self) -> "ServerThread":
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run fn on the server's event loop and return its result."""
        assert self._loop is not None
        fut: concurrent.futures.Future = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:  # noqa: BLE001
                fut.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return fut.result(10)

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(15)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _can_open_browser() -> bool:
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def serve(checkpoint: Any = None, *, host: str = "127.0.0.1", port: int = 8000,
          stage: Any = "battlefield", characters: Sequence[Any] = ("fox", "falco"),
          slots: Sequence[str] = ("chase", "chase"), replay: str | None = None, fps: float = 60.0,
          open_browser: bool = True, torch_threads: int | None = 1, compile: bool | str = False,
          dtype: str | None = None, allow_hosts: Sequence[str] = (), replays: str | Path | None = None,
          print_fn: Callable[[str], None] = print) -> int:
    """Start the web game and block until interrupted (Ctrl-C). `checkpoint` as for
    `load_stepper` (a path or None for the registered model loader, a stepper, or "toy").
    Binds to 127.0.0.1 unless `host` says otherwise; requests must name this machine (or one of
    `allow_hosts`) as their Host, and browsers must come from its own page (`guard`). `compile`
    and `dtype` as for `load_stepper`. `replays`: a folder whose .slp files (searched
    recursively) the page lists and opens in replay mode, besides `replay`; NotADirectoryError when
    it is not a folder. Returns 0."""
    from aiohttp import web

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    library = ReplayLibrary(replays, [replay] if replay else [])  # before the model: a wrong folder fails fast
    if replays:
        print_fn(f"dreamland play: {len(library)} replays under {replays} can be opened from the page")
    names_a_model = checkpoint is None or isinstance(checkpoint, (str, os.PathLike)) and Path(checkpoint).is_dir()
    if compile and names_a_model:  # a baseline or the toy has nothing to compile
        print_fn(f"dreamland play: preparing the compiled step ({'aot' if compile is True else compile}): "
                 f"built once (a minute or two), then loaded from {step_cache()}; --compile eager starts at once")
    if replay and tuple(slots) == ("chase", "chase"):  # a replay's own players, until someone takes over
        slots = ("replay", "replay")
    game = GameLoop(checkpoint, stage, characters, slots, fps=fps, replay=replay, torch_threads=torch_threads,
                    compile=compile, dtype=dtype, replays=library)
    url = guard.reachable_urls(host, port)[0]

    async def main() -> None:
        runner = web.AppRunner(create_app(game, guard.allowed_hosts(host, allow_hosts)), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        for line in guard.startup_lines(host, port):
            print_fn(line)
        if open_browser and _can_open_browser():
            import webbrowser

            try:
                webbrowser.open(url)
            except Exception:  # noqa: BLE001 - no browser is fine
                pass
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0


__all__ = ["GAMEPAD_MAPPINGS", "GameLoop", "KEYMAPS", "MessageError", "ServerThread", "create_app", "serve"]
