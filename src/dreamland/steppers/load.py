"""The one way to get a stepper from what a user names: `dreamland eval CHECKPOINT`,
`dreamland play --checkpoint`, `Session(checkpoint=...)` and the agent environments all call
`load_stepper`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dreamland.data.store import Store
from dreamland.model.checkpoint import CheckpointError, default_checkpoint
from dreamland.model.stepper import ModelStepper
from dreamland.steppers.baselines import BASELINE_NAMES, BASELINES, baseline_name
from dreamland.steppers.protocol import Stepper, is_stepper

TOY_NAMES = ("toy", "physics-toy", "physicstoy")


def load_stepper(source: Any = None, *, device: str | torch.device = "cpu", compile: bool | str = False,
                 dtype: str | None = None, store: Store | None = None,
                 games: np.ndarray | None = None) -> Stepper:
    """A stepper from `source`:

    * None: the model shipped with dreamland (`model.checkpoint.default_checkpoint`);
    * a checkpoint folder (str or path): the world model (`ModelStepper`), stepped as `compile` and
      `dtype` say (`model.stepper.CompiledStep`);
    * a baseline's name (`hold`, `constant-velocity`, `lookup`): the baseline; the lookup counts
      its table over `store`'s training games other than `games`;
    * "toy": `PhysicsToyStepper` (hand-written physics, not a model);
    * a stepper (returned as is) or a zero-argument factory of one.

    Anything else raises a one-line `CheckpointError`."""
    if is_stepper(source):
        return source
    if callable(source) and not isinstance(source, (str, bytes, os.PathLike)):
        return source()
    text = str(default_checkpoint() if source is None else source)
    if text.lower() in TOY_NAMES:
        # imported here: importing any play module runs play/__init__, which imports this loader
        from dreamland.play.toy import PhysicsToyStepper

        return PhysicsToyStepper()
    name = baseline_name(text)
    if name is not None:
        return _baseline(name, store, games)
    if not Path(text).exists():
        names = ", ".join(n.replace("_", "-") for n in BASELINE_NAMES)
        raise CheckpointError(f"{text}: no such checkpoint (give a checkpoint folder, a baseline: {names}, "
                              "or 'toy')")
    return ModelStepper.from_checkpoint(text, device, compile=compile, dtype=dtype)


def _baseline(name: str, store: Store | None, games: np.ndarray | None) -> Stepper:
    cls = BASELINES[name]
    games = np.asarray([] if games is None else games, np.int64)
    built = cls.for_evaluation(store, games) if store is not None or name != "lookup" else None
    if built is None:
        raise CheckpointError(f"{name}: the lookup baseline counts its table over a store's training games "
                              "other than the evaluated ones, and there are none here")
    return built


__all__ = ["TOY_NAMES", "load_stepper"]
