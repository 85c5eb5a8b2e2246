"""Scripted controller sources. A bot is any callable `(game_state, player_index) -> controller`
(a `Controller`, an encoded tensor, or None for neutral); `GameState` is `play.state.GameState`.
A `Bot` whose `reads_state` is False may be given None for the state (the batched environments do).

* `IdleBot`: never touches the controller.
* `RandomBot`: random buttons and stick positions, each held for a few frames (seeded).
* `ReplayInputsBot`: plays back one port's pre-frame inputs from a `.slp` replay.
* `ChaseBot`: walks toward the opponent, jumps when it is above, attacks in range, shields now and
  then, and heads back to the stage (jump, up-B) when off it.
* `FunctionBot`: wraps any Python callable with that signature (or one taking only the state).

`make_bot(name, **options)` builds them by name for the web page and the environments.
"""

from __future__ import annotations

import inspect
import random
from pathlib import Path
from typing import Any, Callable

from dreamland.play.controller import BUTTONS, Controller
from dreamland.play.state import GameState
from dreamland.schema import stages as S


class Bot:
    name = "bot"
    # False for bots that never look at the game: batched callers then pass None instead of
    # building a GameState view per game and frame
    reads_state = True

    def reset(self) -> None:
        """Called when the game restarts."""

    def __call__(self, state: GameState, player: int) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class IdleBot(Bot):
    name = "idle"
    reads_state = False

    def __call__(self, state: GameState, player: int) -> Controller:
        return Controller()


class RandomBot(Bot):
    """Random inputs: every `hold` frames (on average) a new stick position and button set."""

    name = "random"
    reads_state = False

    def __init__(self, seed: int | None = None, hold: int = 6, p_button: float = 0.25) -> None:
        self.seed = seed
        self.hold = hold
        self.p_button = p_button
        self.reset()

    def reset(self) -> None:
        self.rng = random.Random(self.seed)
        self.current = Controller()
        self.left = 0

    def __call__(self, state: GameState, player: int) -> Controller:
        if self.left <= 0:
            r = self.rng
            c = Controller()
            c.tilt_analog("MAIN", r.choice((0.0, 0.25, 0.5, 0.5, 0.75, 1.0)), r.choice((0.0, 0.5, 0.5, 0.5, 1.0)))
            if r.random() < 0.2:
                c.tilt_analog("C", r.choice((0.0, 0.5, 1.0)), r.choice((0.0, 0.5, 1.0)))
            for b in BUTTONS:
                if b != "START" and r.random() < self.p_button / 4:
                    c.press_button(b)
            if r.random() < 0.1:
                c.press_shoulder("L", r.random())
            self.current = c
            self.left = r.randint(1, 2 * self.hold)
        self.left -= 1
        return self.current.copy()


class ReplayInputsBot(Bot):
    """Plays back the pre-frame inputs of one player of a replay.

    `player`: 0 or 1, the first or second port of the replay (default: the slot the bot plays).
    `start_frame`: the game frame id whose input is used on the first frame played (default -39,
    when players can first act). After the replay ends the controller is neutral."""

    name = "replay"
    reads_state = False

    def __init__(self, path: str | Path, player: int | None = None, start_frame: int = -39) -> None:
        from dreamland.play.replay import load_replay

        self.path = str(path)
        self.game = load_replay(path)
        self.player = player
        self.start_frame = start_frame
        self.reset()

    def reset(self) -> None:
        self.row = self.game.index_of(self.start_frame)

    def __call__(self, state: GameState, player: int) -> Any:
        p = player if self.player is None else self.player
        if self.row >= len(self.game):
            return Controller()
        out = self.game.controllers[self.row, p]
        self.row += 1
        return out


class ChaseBot(Bot):
    """Walk toward the opponent and attack: a simple opponent for agents and people."""

    name = "chase"

    def __init__(self, attack_range: float = 14.0, seed: int | None = 0) -> None:
        self.attack_range = attack_range
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        self.rng = random.Random(self.seed)
        self.frame = 0
        self.pressed_last = False

    def __call__(self, state: GameState, player: int) -> Controller:
        self.frame += 1
        me, them = state.players[player], state.players[1 - player]
        c = Controller()
        if not me.exists or me.dead:
            return c
        try:
            edge = S.geometry(state.stage).ground_x
        except KeyError:
            edge = 70.0
        x, y = me.position
        dx, dy = them.x - x, them.y - y
        off_stage = abs(x) > edge or y < -5
        if off_stage:  # recover: toward the centre, jump, then up-B
            c.tilt_analog("MAIN", 0.0 if x > 0 else 1.0, 0.5)
            if not self.pressed_last:
                if me.values.get("jumps", 0) > 0 and me.values.get("vel_y", 0) <= 0:
                    c.press_button("X")
                elif y < 0:
                    c.tilt_analog("MAIN", 0.25 if x > 0 else 0.75, 1.0)
                    c.press_button("B")
            self.pressed_last = bool(c.buttons)
            return c
        if them.dead or not them.exists:
            self.pressed_last = False
            return c
        if abs(dx) > self.attack_range * 0.6:
            c.tilt_analog("MAIN", 1.0 if dx > 0 else 0.0, 0.5)
        if dy > 20 and me.on_ground and not self.pressed_last:
            c.press_button("X")
        elif abs(dx) < self.attack_range and abs(dy) < 15 and not self.pressed_last:
            c.tilt_analog("MAIN", 0.6 if dx > 0 else 0.4, 0.5)  # face the opponent
            c.press_button("A")
        elif them.values.get("hitlag", 0) == 0 and abs(dx) < 25 and self.rng.random() < 0.02:
            c.press_shoulder("R", 1.0)
        self.pressed_last = bool(c.buttons)
        return c


class FunctionBot(Bot):
    """Any Python callable as a bot: `fn(state, player)` or `fn(state)`."""

    name = "function"

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        try:
            params = [p for p in inspect.signature(fn).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            self.takes_player = len(params) >= 2 or any(
                p.kind is p.VAR_POSITIONAL for p in inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            self.takes_player = True

    def reset(self) -> None:
        if hasattr(self.fn, "reset"):
            self.fn.reset()

    def __call__(self, state: GameState, player: int) -> Any:
        return self.fn(state, player) if self.takes_player else self.fn(state)


BOTS: dict[str, Callable[..., Bot]] = {
    "idle": IdleBot,
    "random": RandomBot,
    "chase": ChaseBot,
    "replay": ReplayInputsBot,
}


def make_bot(name: str, **options: Any) -> Bot:
    try:
        return BOTS[name](**options)
    except KeyError:
        raise ValueError(f"unknown bot {name!r}; bots: {', '.join(BOTS)}") from None


def as_bot(source: Any) -> Bot:
    """A bot from a name, a Bot, or any callable."""
    if isinstance(source, Bot):
        return source
    if isinstance(source, str):
        return make_bot(source)
    if callable(source):
        return FunctionBot(source)
    raise TypeError(f"not a bot: {source!r}")


__all__ = ["BOTS", "Bot", "ChaseBot", "FunctionBot", "IdleBot", "RandomBot", "ReplayInputsBot",
           "as_bot", "make_bot"]
