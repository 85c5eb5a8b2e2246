"""`Session`: one game of Melee played through the world model, from Python.

    from dreamland.play import Session, Controller
    s = Session("toy", stage="battlefield", characters=("fox", "marth"))
    state = s.reset()
    pad = Controller().tilt_analog("MAIN", 1.0, 0.5)      # libmelee's vocabulary
    state = s.step(pad, None)                               # None: a neutral controller
    print(state.players[0].x, state.players[0].action_name)

`checkpoint` is anything `steppers.load.load_stepper` takes: a stepper object, a factory, "toy"
(the physics toy, not a model), or a checkpoint path / None for the registered model loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from dreamland.data.items import MAX_ITEM_SLOTS
from dreamland.play import facts
from dreamland.play.controller import as_tensor
from dreamland.play.core import BatchedCore
from dreamland.play.state import GameState
from dreamland.schema import characters as C
from dreamland.steppers.load import load_stepper


class Session:
    def __init__(self, checkpoint: Any = None, stage: Any = "battlefield",
                 characters: Sequence[Any] = ("fox", "falco"), *, stocks: int = facts.STOCKS,
                 timer_frames: int = facts.GAME_FRAMES, item_slots: int = MAX_ITEM_SLOTS) -> None:
        self.stepper = load_stepper(checkpoint)
        self.stage = stage
        self.characters = tuple(characters)
        self.core = BatchedCore(self.stepper, 1, stage, characters, stocks=stocks,
                                timer_frames=timer_frames, item_slots=item_slots)
        self.state: GameState = self.core.game_state(0)
        self.replay = None

    @property
    def context(self) -> int:
        return self.core.context

    def reset(self, replay: str | Path | None = None, frame: int | None = None, *,
              stage: Any = None, characters: Sequence[Any] | None = None) -> GameState:
        """Start again. Without `replay`: both players standing at the stage's spawn points, 4
        stocks, 0 % (see `play.facts` for where those facts come from). With `replay` (a .slp
        path): from game frame id `frame` of that replay (default: frame 0, when the timer starts),
        seeded with the `context` frames before it; stage and characters are the replay's."""
        if replay is not None:
            from dreamland.play.replay import load_replay

            game = load_replay(replay, self.core.item_slots)
            self.replay = game
            row = game.index_of(0 if frame is None else int(frame))
            seed = game.window(row, self.context)
            self.core.reset(seed=seed)
            self.stage = game.stage
            self.characters = tuple(C.internal_to_external(c) for c in game.characters)
        else:
            if stage is not None:
                self.stage = stage
            if characters is not None:
                self.characters = tuple(characters)
            self.core.reset(stage=self.stage, characters=self.characters)
        self.state = self.core.game_state(0)
        return self.state

    def step(self, controller_1: Any = None, controller_2: Any = None) -> GameState:
        """One frame with the two players' controllers (a `Controller`, an encoded (17,) tensor,
        a libmelee-like object with `to_tensor()`, or None for neutral)."""
        ctrl = torch.stack([as_tensor(controller_1), as_tensor(controller_2)])[None]
        self.core.step(ctrl)
        self.state = self.core.game_state(0)
        return self.state

    @property
    def game_over(self) -> bool:
        return self.state.game_over

    @property
    def tensors(self) -> dict[str, torch.Tensor]:
        """The current frame as store tensors (B = 1)."""
        return self.core.frame

    def play(self, bot_1: Any, bot_2: Any, frames: int) -> GameState:
        """Let two bots (callables `(GameState, player_index) -> controller`) play `frames` frames
        or until the game is over."""
        for _ in range(frames):
            if self.state.game_over:
                break
            self.step(bot_1(self.state, 0), bot_2(self.state, 1))
        return self.state


__all__ = ["Session"]
