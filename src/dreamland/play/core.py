"""`BatchedCore`: many games stepped at once through one stepper, with the play rules on top.

Everything that plays goes through it: `Session` (one game), the agent environments (many), the
web server's game loop (one). A step is one call of the stepper for the whole batch plus a fixed
number of batched tensor operations for the rules, so its time does not depend on how long the
games have run.
"""

from __future__ import annotations

import time
from typing import Any, Sequence

import torch
from torch import Tensor

from dreamland.data.frame import TIMELESS, normalize
from dreamland.data.items import MAX_ITEM_SLOTS
from dreamland.play import facts
from dreamland.play import rules as R
from dreamland.play.state import (
    GameState,
    empty_frame,
    game_state_views,
    neutral_controllers,
    repeat_as_seed,
    starting_frame,
)
from dreamland.schema import characters as C
from dreamland.schema import stages as S
from dreamland.steppers.protocol import Stepper, merge_rows


def parse_stage(stage: Any) -> int:
    sid = S.external_stage_id(stage)
    if not S.is_legal(sid):
        raise ValueError(f"stage {S.stage_name(sid)} has no geometry; play needs one of the six legal stages")
    return sid


def parse_characters(characters: Sequence[Any]) -> tuple[int, int]:
    """Two characters by name or external id -> internal ids."""
    if len(characters) != 2:
        raise ValueError(f"two characters are needed, got {len(characters)}")
    out = []
    for c in characters:
        ext = C.external_character_id(c)
        out.append(C.external_to_internal(ext))
    return out[0], out[1]


def _cat(frames: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    return {k: torch.cat([f[k] for f in frames]) for k in frames[0]}


# Frames of history a game started at the spawn points begins with (a start from a replay brings
# its own K frames). One: the characters have just become actionable, as in a real game (at the
# first actionable frame of the corpus' games, 543 of 694 players are still LANDING, median
# state_age 5). A K-frame history of standing still is something no replay shows, and the shipped
# model reads it as a player who is not playing: from it, a jump press started a jump in 1 of 4
# stage/character pairs, from one frame in 4 of 4 (every figure: benchmarks/controls_check.py).
SPAWN_HISTORY = 1


class BatchedCore:
    """B games, their model state, their current frame and the rules' bookkeeping."""

    def __init__(self, stepper: Stepper, batch: int = 1, stage: Any = "battlefield",
                 characters: Sequence[Any] = ("fox", "falco"), *, stocks: int = facts.STOCKS,
                 timer_frames: int = facts.GAME_FRAMES, item_slots: int = MAX_ITEM_SLOTS) -> None:
        self.stepper = stepper
        self.batch = batch
        self.stocks = stocks
        self.timer_frames = timer_frames
        self.item_slots = item_slots
        self.context = max(1, int(getattr(stepper, "context", 1) or 1))
        self.frame: dict[str, Tensor] = empty_frame(batch, item_slots)
        self.model_state: Any = None
        self.rules: R.RulesState | None = None
        self.events = R.Events(torch.zeros(batch, 2, dtype=torch.bool), torch.zeros(batch, 2, dtype=torch.bool),
                               torch.zeros(batch, dtype=torch.bool))
        self.last_controllers = neutral_controllers(batch)
        self.phases: Any = None  # a play.timing.PhaseTimes that records model and rules times
        self.reset(stage=stage, characters=characters)

    # ------------------------------------------------------------------ resets
    def start_frames(self, stage: Any, characters: Sequence[Any], n: int) -> dict[str, Tensor]:
        sid = parse_stage(stage)
        chars = parse_characters(characters)
        one = starting_frame(sid, chars, self.stocks, self.item_slots)
        return {k: v.repeat_interleave(n, 0) for k, v in one.items()}

    def reset(self, rows: Sequence[int] | Tensor | None = None, *, stage: Any = None,
              characters: Sequence[Any] | None = None, seed: dict[str, Tensor] | None = None,
              stocks: Tensor | None = None) -> None:
        """Restart games `rows` (all by default): from a seed (B_rows, K, ...) of real frames, or
        standing at the spawn points of `stage` with `characters`. `stocks` (B_rows, 2) overrides
        the rules' stock count (by default: the seed's last frame, or `self.stocks`)."""
        if rows is None:
            rows_t = torch.arange(self.batch)
        else:
            rows_t = torch.as_tensor(rows, dtype=torch.long).reshape(-1)
        n = len(rows_t)
        if n == 0:
            return
        if seed is None:
            if stage is None or characters is None:
                stage = stage if stage is not None else int(self.frame["stage"][rows_t[0]])
                if characters is None:
                    chars = self.frame["characters"][rows_t[0]].tolist()
                    characters = [C.internal_to_external(c) for c in chars]
            first = self.start_frames(stage, characters, n)
            seed = repeat_as_seed(first, min(self.context, SPAWN_HISTORY))
        seed = normalize(seed)
        last = {k: (v if v.dim() == 0 or k in TIMELESS else v[:, -1]) for k, v in seed.items()}
        last = normalize(last)
        if stocks is None:
            from dreamland.play.state import player_values

            stocks = player_values(last, "stocks").long()
        if rows is None or self.model_state is None:
            full = rows is None and n == self.batch
            if not full:
                raise ValueError("the first reset must cover every game of the batch")
            self.model_state = self.stepper.init(seed)
            self.frame = {k: v.clone() for k, v in last.items()}
            self.rules = R.RulesState.new(last["stage"], stocks, self.timer_frames)
        else:
            part = self.stepper.init(seed)
            if hasattr(self.stepper, "reset_rows"):
                self.model_state = self.stepper.reset_rows(self.model_state, rows_t, seed)
            else:
                self.model_state = merge_rows(self.model_state, part, rows_t)
            for k, v in last.items():
                if k in self.frame and self.frame[k].shape[1:] == v.shape[1:]:
                    self.frame[k][rows_t] = v.to(self.frame[k].dtype)
                else:
                    raise ValueError(f"reset: key {k} has shape {tuple(v.shape)}, the batch has "
                                     f"{tuple(self.frame[k].shape) if k in self.frame else 'none'}")
            assert self.rules is not None
            self.rules.replace_rows(rows_t, R.RulesState.new(last["stage"], stocks, self.timer_frames))
        self.events.ko[rows_t] = False
        self.events.respawn[rows_t] = False
        self.events.game_over[rows_t] = False

    # ------------------------------------------------------------------ stepping
    def step(self, controllers: Tensor) -> dict[str, Tensor]:
        """Advance every game by one frame with (B, 2, 17) encoded controllers. Finished games
        stay as they ended."""
        controllers = controllers.to(torch.float32).reshape(self.batch, 2, -1)
        if not torch.isfinite(controllers).all():
            controllers = torch.nan_to_num(controllers, nan=0.5)
        controllers = controllers.clamp(0, 1)
        t0 = time.perf_counter()
        self.model_state, nxt = self.stepper.step(self.model_state, self.frame, controllers)
        t1 = time.perf_counter()
        nxt = normalize(nxt)
        assert self.rules is not None
        self.frame, self.events = R.apply(self.rules, self.frame, nxt)
        if self.phases is not None:
            self.phases.add("model", (t1 - t0) * 1000.0)
            self.phases.add("rules", (time.perf_counter() - t1) * 1000.0)
        self.last_controllers = controllers
        return self.frame

    # ------------------------------------------------------------------ views
    @property
    def over(self) -> Tensor:
        assert self.rules is not None
        return self.rules.over

    def game_state(self, b: int = 0) -> GameState:
        """The readable state of game b (`play.state.GameState`)."""
        b = range(self.batch)[b]  # a negative index counts from the end; out of range raises
        return self.game_states(slice(b, b + 1))[0]  # views, no copies: play reads it every frame

    def game_states(self, rows: Sequence[int] | slice | None = None) -> list[GameState]:
        """The readable states of games `rows` (all by default), converted in one pass."""
        r = self.rules
        assert r is not None
        idx: slice | Tensor = rows if isinstance(rows, slice) else (
            slice(None) if rows is None else torch.as_tensor(list(rows), dtype=torch.long))
        frame = self.frame if rows is None else {k: v[idx] for k, v in self.frame.items() if v.dim() > 0}
        winner = r.winner[idx].tolist()
        return game_state_views(
            frame, frame_numbers=r.frame[idx].tolist(), timer_frames_left=r.timer_left[idx].tolist(),
            game_over=r.over[idx].tolist(), winner=[w if w >= 0 else None for w in winner],
            events=self.events.lists(idx), invulnerable=((r.invulnerable[idx] > 0) | (r.dead[idx] > 0)).tolist(),
            dead=(r.dead[idx] > 0).tolist(),
        )


__all__ = ["BatchedCore", "parse_characters", "parse_stage"]
