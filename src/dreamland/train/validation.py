"""Validation during training: teacher-forced losses and accuracies, and a short rollout error.

The rollout goes through the evaluation code (`evaluate.rollout`) and the model's one step
function, so the figure logged here is the figure `dreamland eval` reports at the same horizon.
"""

from __future__ import annotations

import torch

from dreamland.data.encoding import encode, to_torch
from dreamland.evaluate.errors import EvaluationError
from dreamland.evaluate.metrics import frame_metrics
from dreamland.evaluate.rollout import rollout
from dreamland.evaluate.starts import choose_starts
from dreamland.model.stepper import ModelStepper
from dreamland.model.window import decode_window, loss_from_heads, prepare_window


@torch.no_grad()
def teacher_forced(trainer, batches: int) -> dict[str, float]:
    sampler = trainer.val_sampler
    if sampler is None or batches <= 0:
        return {}
    model = trainer.model.eval()
    totals: dict[str, float] = {}
    n = 0
    action_hits = change_hits = change_total = frames = 0.0
    action_col = [f.name for f in model.spec.char_cat].index("action")
    for i, batch in enumerate(sampler.batches(0)):
        if i >= batches:
            break
        enc = encode(to_torch(batch, trainer.rt.device))
        with trainer.rt.autocast():
            inputs, controllers, targets = prepare_window(enc)
            out = model(inputs, controllers)  # once: scored and decoded
            total, losses = loss_from_heads(model, out, inputs, targets, trainer.loss_config,
                                            model.window_motion(inputs))
            pred = decode_window(model, inputs, out, controllers)
        totals["loss"] = totals.get("loss", 0.0) + float(total)
        for k, v in losses.items():
            totals[f"loss/{k}"] = totals.get(f"loss/{k}", 0.0) + float(v)
        # the two players' actions (slots 0 and 1), where they exist
        p = pred["char_cat"][..., :2, action_col]
        t = targets["char_cat"][..., :2, action_col]
        prev = inputs["char_cat"][..., :2, action_col]
        exists = targets["char_exists"][..., :2] > 0.5
        action_hits += float(((p == t) & exists).sum())
        frames += float(exists.sum())
        changed = (t != prev) & exists
        change_hits += float(((p == t) & changed).sum())
        change_total += float(changed.sum())
        n += 1
    out = {f"val/{k}": v / max(n, 1) for k, v in totals.items()}
    out["val/action_acc"] = action_hits / max(frames, 1.0)
    if change_total:
        out["val/action_change_acc"] = change_hits / change_total
    return out


@torch.no_grad()
def rollout_error(trainer, starts: int, horizon: int) -> dict[str, float]:
    if starts <= 0 or len(trainer.val_games) == 0:
        return {}
    cfg = trainer.cfg
    try:
        chosen = choose_starts(trainer.store, trainer.val_games, cfg.data.context, horizon, starts,
                               seed=cfg.run.seed)
    except EvaluationError:
        return {}
    stepper = ModelStepper(trainer.model.eval())
    res = rollout(stepper, trainer.store, chosen, batch_size=min(64, starts), device=trainer.rt.device)
    at = frame_metrics(res.pred, res.real, horizon)  # the same definitions as `dreamland eval`
    nan = float("nan")
    return {
        f"val/rollout_pos_mae_{horizon}": at["pos_mae"] if at["pos_mae"] is not None else nan,
        f"val/rollout_action_acc_{horizon}": at["action_acc"] if at["action_acc"] is not None else nan,
    }


def validate(trainer, cfg) -> dict[str, float]:
    """Rank 0 measures; the other ranks wait (the figures are logged by rank 0 only)."""
    metrics: dict[str, float] = {}
    if trainer.rt.is_main:
        metrics.update(teacher_forced(trainer, cfg.batches))
        metrics.update(rollout_error(trainer, cfg.rollout_starts, cfg.rollout_horizon))
    trainer.rt.barrier()
    return metrics
