"""The stepper protocol every rollout goes through, and how a checkpoint becomes a stepper.

A *stepper* is anything with

    init(seed) -> model_state
        `seed`: a dict of torch tensors for K real frames, shaped (B, K, ...) with the keys of a
        window batch (`data.windows`): the game state (FRAME_KEYS), `controller_sticks` and
        `controller_buttons` (raw), `controller` (the encoded controllers, (B, K, 2, 17), the
        input at t produced the state at t), `stage` (B,) and `characters` (B, 2).
    step(model_state, game_state, controllers) -> (model_state, next_game_state)
        `game_state`: one frame, a dict of (B, ...) tensors with FRAME_KEYS (the first call gets
        the last seed frame, later calls whatever the previous step returned); `controllers`:
        (B, 2, 17) encoded (`data.encoding.encode_controller`), the inputs of the frame to
        predict. Returns the next frame with the same keys, shapes and dtypes as `game_state`.

The world model's stepper is `dreamland.model.step.ModelStepper`; `dreamland eval CHECKPOINT`
reads a checkpoint into one with `evaluate.command.stepper_for_checkpoint`. The names of the
baselines (`hold`, `constant-velocity`) are also accepted as CHECKPOINT, which evaluates a
baseline as if it were a model (handy for smoke tests).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

from dreamland.evaluate.errors import EvaluationError

Frame = dict[str, torch.Tensor]

# One frame of game state: the keys a stepper reads and returns (controllers excluded).
FRAME_KEYS: tuple[str, ...] = (
    "player_real", "player_small", "player_wide", "player_exists",
    "follower_real", "follower_small", "follower_wide", "follower_exists",
    "item_real", "item_small", "item_exists",
    "stage", "characters",
)
# no time axis in a window batch; `present` (which character fields the game recorded, per game)
# is passed on where the window has it
STATIC_KEYS = ("stage", "characters", "present")


@runtime_checkable
class Stepper(Protocol):
    def init(self, seed: dict[str, torch.Tensor]) -> Any: ...

    def step(self, model_state: Any, game_state: Frame, controllers: torch.Tensor) -> tuple[Any, Frame]: ...


def frame_at(window: dict[str, torch.Tensor], t: int) -> Frame:
    """Frame `t` of a (B, T, ...) window as a (B, ...) game state (static keys as they are)."""
    keys = FRAME_KEYS + (("present",) if "present" in window else ())
    return {k: (window[k] if k in STATIC_KEYS else window[k][:, t]) for k in keys}


def check_stepper(obj: Any, name: str = "stepper") -> Stepper:
    if not (callable(getattr(obj, "init", None)) and callable(getattr(obj, "step", None))):
        raise EvaluationError(f"{name}: not a stepper (it needs init(seed) and step(state, frame, controllers))")
    return obj
