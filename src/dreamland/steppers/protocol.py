"""The stepper protocol: what training validation, `dreamland eval`, `dreamland play` and the agent
environments drive, and what the world model, the baselines and the toy implement.

A *stepper* advances a batch of B games by one frame:

    model_state = stepper.init(seed)
    model_state, next_frame = stepper.step(model_state, frame, controllers)

* `seed`: the K most recent real frames of each game, a `data.windows` batch (B, K, ...): the
  frame keys of `data.frame` (each frame's `controller_sticks` / `controller_buttons` being the
  input that produced it), and the timeless `stage` (B,), `characters` (B, 2) and, where the
  store has it, `present` (which character fields each game recorded).
* `frame`: the current frame (B, ...), `data.frame.FRAME_KEYS` at least (the seed's last frame
  first, then whatever the previous step returned, after play's rules where play drives it).
* `controllers`: (B, 2, 17) encoded inputs of the frame to predict
  (`data.encoding.encode_controller`).
* returns the next frame with the same keys, shapes and dtypes as `frame`.

`step` consumes the `model_state` it is given: the world model's eager step updates the recurrent
state in place (at a large batch, a fresh state per frame costs more than the arithmetic). Clone it
(`torch.clone` over its tensors) to step from the same state twice.

Optional attributes: `name`; `context`, the seed length it was trained with (play builds seeds of
`context` frames, default 1); `reset_rows(model_state, rows, seed)`, to restart some games of a
batch when `model_state` is not a tensor or a nested tuple / list / dict of tensors whose first
axis is the batch (`merge_rows`). Time per `step` must not depend on how many frames were played.

Decoding, clamping and the state_age rule are the stepper's business (`model/rules.py` for the
world model); play applies only the game's rules of `play.rules` on top of what `step` returns.
`steppers.load.load_stepper` turns a checkpoint, the shipped model, a baseline's name or "toy"
into a stepper.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from torch import Tensor

from dreamland.data.frame import Frame


@runtime_checkable
class Stepper(Protocol):
    def init(self, seed: Frame) -> Any: ...

    def step(self, model_state: Any, game_state: Frame, controllers: Tensor) -> tuple[Any, Frame]: ...


def is_stepper(obj: Any) -> bool:
    """An object with `init` and `step` (a stepper class is a factory, not a stepper)."""
    return not isinstance(obj, type) and callable(getattr(obj, "init", None)) and callable(getattr(obj, "step", None))


def merge_rows(full: Any, part: Any, rows: Tensor) -> Any:
    """`full` with its batch rows `rows` replaced by `part` (same nesting; see the module doc)."""
    if isinstance(full, Tensor):
        out = full.clone()
        out[rows] = part.to(out.dtype)
        return out
    if isinstance(full, (tuple, list)):
        return type(full)(merge_rows(f, p, rows) for f, p in zip(full, part))
    if isinstance(full, dict):
        return {k: merge_rows(full[k], part[k], rows) for k in full}
    if full is None:
        return None
    raise TypeError(f"cannot reset rows of a model state of type {type(full).__name__}; "
                    "define reset_rows on the stepper")


__all__ = ["Stepper", "is_stepper", "merge_rows"]
