"""Teacher-forced figures: from K real frames, predict the next one, at many positions.

Every position gives one prediction made from real history only (the stepper's `init` on K real
frames, then one `step` with the real controllers), so any stepper, model or baseline, is scored
the same way and on exactly the same frames. Positions are drawn like rollout starts (seeded,
uniform over the playable frames of the games).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dreamland.data.store import Store
from dreamland.evaluate.metrics import teacher_forced_metrics
from dreamland.evaluate.rollout import RolloutResult, rollout
from dreamland.evaluate.starts import Starts, choose_starts
from dreamland.steppers.protocol import Stepper


def teacher_forced_positions(store: Store, games: np.ndarray, context: int, count: int, seed: int) -> Starts:
    return choose_starts(store, games, context, 1, count, seed)


def teacher_forced(stepper: Stepper, store: Store, positions: Starts, *, batch_size: int = 1024,
                   device: str = "cpu", progress: Callable[[int], None] | None = None) -> tuple[dict, RolloutResult]:
    """(metrics, the one-step rollouts) of one stepper at `positions` (horizon 1)."""
    res = rollout(stepper, store, positions, batch_size=batch_size, device=device, progress=progress)
    return teacher_forced_metrics(res), res
