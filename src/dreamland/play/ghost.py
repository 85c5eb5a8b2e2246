"""The dream beside reality: a replay's real inputs drive the model while the real game is shown
as a ghost, with the divergence between the two.

`GhostReplay` holds the replay and the row of the real game aligned with the model's current
frame. Each frame the slots still on "replay" get the real input that produced the next real
frame; after the step the real frame of that row is the ghost, and `divergence` compares it with
the model's. Pausing stops the clock of the game (the loop keeps serving the paused frame); a
step advances one frame; a seek reseeds the model with the real frames before the target row
(the model is recurrent, so going back means starting again from reality). A slot switched to a
person or a bot plays on from wherever the game is: that is the take-over.

Every frame played is recorded (`Recording`): one JSON file with both players' inputs and the
model's and the real states, which the page can play back without a server.
"""

from __future__ import annotations

import collections
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dreamland.play.replay import ReplayGame, load_replay
from dreamland.play.state import GameState, game_state_view

SESSION_FORMAT = "dreamland-session/1"


@dataclass
class Recording:
    """What was played: per frame the encoded inputs of both slots and the two states.

    Each frame is kept as its JSON text: strings are invisible to Python's cycle collector, while
    ten minutes of nested dicts made every full collection walk them and stall a frame of the
    game loop (docs/play.md, `benchmarks/bench_play_gc.py`)."""

    meta: dict[str, Any]
    # the last ten minutes: a long game keeps bounded memory and a session file a page can load
    frames: collections.deque = field(default_factory=lambda: collections.deque(maxlen=60 * 60 * 10))

    def add(self, frame: int, controllers: torch.Tensor, state: dict[str, Any], ghost: dict | None) -> None:
        entry = {"frame": frame, "inputs": [[round(float(v), 4) for v in row] for row in controllers.tolist()],
                 "state": state}
        if ghost is not None:
            entry["ghost"] = ghost
        self.frames.append(json.dumps(entry, separators=(",", ":")))

    def to_text(self) -> str:
        """The session file: one JSON object, its frames oldest first."""
        head = json.dumps({"format": SESSION_FORMAT, **self.meta}, separators=(",", ":"))
        return head[:-1] + ',"frames":[' + ",".join(self.frames) + "]}"


def divergence(model: GameState, real: GameState) -> dict[str, list]:
    """Per player: the distance between the model's and the real position (game units) and
    whether their action states differ."""
    pos, mismatch = [], []
    for pm, pr in zip(model.players, real.players):
        if not (pm.exists and pr.exists):
            pos.append(None)
            mismatch.append(None)
            continue
        pos.append(round(math.hypot(pm.values["x"] - pr.values["x"], pm.values["y"] - pr.values["y"]), 3))
        mismatch.append(int(pm.values["action"]) != int(pr.values["action"]))
    return {"position_error": pos, "action_mismatch": mismatch}


class GhostReplay:
    def __init__(self, path: str | Path, item_slots: int, start_frame: int = 0, label: str | None = None) -> None:
        self.game: ReplayGame = load_replay(path, item_slots)
        self.path = str(path)
        self.label = label or Path(path).name  # how clients name it: never the server's own path
        self.row = self.game.index_of(start_frame)
        self.paused = False
        self.steps = 0  # frames to advance while paused
        self.seek_row: int | None = None

    # --- control (event-loop thread); the worker reads these at the start of a frame
    def command(self, op: str, frame: Any = None) -> None:
        if op == "pause":
            self.paused = True
        elif op == "resume":
            self.paused = False
        elif op == "step":
            self.paused = True
            self.steps += 1
        elif op == "seek":
            if isinstance(frame, bool) or not isinstance(frame, int):
                raise ValueError("seek needs an integer frame (the replay's frame id)")
            self.seek_row = self.game.index_of(frame)
        else:
            raise ValueError(f"unknown replay op {op!r}: pause, resume, step or seek")

    def should_advance(self) -> bool:
        if self.row + 1 >= len(self.game):
            return False  # the real game ended: the dream has nothing left to compare with
        if not self.paused:
            return True
        if self.steps > 0:
            self.steps -= 1
            return True
        return False

    def take_seek(self) -> int | None:
        row, self.seek_row = self.seek_row, None
        return row

    # --- frames (worker thread)
    def seed(self, k: int) -> dict[str, torch.Tensor]:
        return self.game.window(self.row, k)

    def real_input(self, slot: int) -> torch.Tensor:
        """The input that produced the next real frame."""
        return self.game.controllers[min(self.row + 1, len(self.game) - 1), slot]

    def advance(self) -> None:
        self.row = min(self.row + 1, len(self.game) - 1)

    def real_state(self) -> GameState:
        window = self.game.window(self.row, 1)
        frame = {k: (v if k in ("stage", "characters") else v[:, -1]) for k, v in window.items()}
        return game_state_view(frame, 0, frame_number=int(self.game.frame_ids[self.row]))

    def describe(self) -> dict[str, Any]:
        return {"path": self.label, "frame_id": int(self.game.frame_ids[self.row]),
                "first_frame_id": int(self.game.frame_ids[0]), "last_frame_id": int(self.game.frame_ids[-1]),
                "paused": self.paused}


__all__ = ["GhostReplay", "Recording", "SESSION_FORMAT", "divergence"]
