"""Where a model's one-frame position error comes from: games with and without velocities.

Teacher-forced on validation windows (K = 60 real frames, then the next frame), the mean |error|
of x and y in game units, for the model, constant velocity (x(t) + x(t) - x(t-1)) and the position
rule fed the real next velocities (with `motion_rules`, the displacement where a game has none:
docs/model.md), split by whether the game recorded velocities
(Slippi 3.0 and later) or not:

    python benchmarks/position_check.py                      # the shipped model
    python benchmarks/position_check.py runs/X/checkpoints/step-00000500 --store data/all-store
    python benchmarks/position_check.py CHECKPOINT --all-fields   # every field, by the same split

With `--all-fields`, every predicted field of the two players on the same frames: mean |error| of
a continuous field (game units), accuracy of a categorical or binary one, each over the games
that recorded it.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from dreamland.data.encoding import encode, to_torch
from dreamland.data.store import Store
from dreamland.data.windows import WindowSampler
from dreamland.model.checkpoint import default_checkpoint, load
from dreamland.model.window import predict_window, prepare_window


def _scored(model, store: Store, split: str, batches: int, seed: int, context: int):
    """(inputs, targets, teacher-forced predictions, the two players' scored frames) per batch of
    16 windows: frames where the player exists in both, the window's first frame left out
    (constant velocity needs the frame before)."""
    sampler = WindowSampler(store, store.games_in(split), context, 16, seed=seed)
    for i, batch in enumerate(sampler.batches(0)):
        if i >= batches:
            break
        inputs, controllers, targets = prepare_window(encode(to_torch(batch, "cpu")))
        on = (inputs["char_exists"][..., :2] > 0.5) & (targets["char_exists"][..., :2] > 0.5)
        on[:, 0] = False
        yield inputs, targets, predict_window(model, inputs, controllers), on


@torch.no_grad()
def errors(model, store: Store, split: str = "val", batches: int = 8, seed: int = 5, context: int = 60) -> dict:
    """{"x"|"y": {"velocities"|"no velocities": {"frames", "model", "constant velocity", "rule"}}}"""
    priors = model.rules.priors
    if priors is None:
        raise ValueError("the model has no rule priors (model.rule_priors): nothing to split")
    sums: dict = {}
    for inputs, targets, pred, on in _scored(model, store, split, batches, seed, context):
        pred = pred["char_real"]
        ruled = priors.base(inputs["char_real"], inputs["char_cat"], targets["char_real"], targets["char_bin"],
                            model.window_motion(inputs), inputs["present"])
        recorded = (inputs["present"][..., priors.col["vel_y"]] > 0.5).unsqueeze(-1).expand_as(on)
        for name in ("x", "y"):
            j, scale = priors.col[name], priors.scale[name]
            cur, nxt = inputs["char_real"][..., :2, j], targets["char_real"][..., :2, j]
            prev = torch.cat([cur[:, :1], cur[:, :-1]], 1)
            guesses = {"model": pred[..., :2, j], "constant velocity": 2 * cur - prev,
                       "rule": ruled[..., :2, priors.k[name]]}
            for kind, sel in (("velocities", recorded), ("no velocities", ~recorded)):
                mask = on & sel
                row = sums.setdefault(name, {}).setdefault(kind, {"frames": 0})
                row["frames"] += int(mask.sum())
                for label, guess in guesses.items():
                    row[label] = row.get(label, 0.0) + float(((guess - nxt).abs() * scale)[mask].sum())
    for per_kind in sums.values():
        for row in per_kind.values():
            for label in ("model", "constant velocity", "rule"):
                row[label] = round(row[label] / max(row["frames"], 1), 4)
    return sums


@torch.no_grad()
def field_errors(model, store: Store, split: str = "val", batches: int = 8, seed: int = 5, context: int = 60) -> dict:
    """{"velocities"|"no velocities": {field: mean |error| or accuracy}} of the model's
    teacher-forced next frame, each field over the player-frames of the games that recorded it."""
    part = model.char_part
    vel = [f.name for f in part.real].index("vel_y")
    sums: dict = {}
    for inputs, targets, pred, on in _scored(model, store, split, batches, seed, context):
        present = inputs["present"][..., None, :].expand(*on.shape, inputs["present"].shape[-1]) > 0.5
        recorded = present[..., vel]
        columns = [("real", j, f) for j, f in enumerate(part.real)]
        columns += [("cat", j, f) for j, f in enumerate(part.cat)] + [("bin", j, f) for j, f in enumerate(part.bin)]
        offset = {"real": 0, "cat": len(part.real), "bin": len(part.real) + len(part.cat)}
        for group, j, f in columns:
            p, t = pred[f"char_{group}"][..., :2, j], targets[f"char_{group}"][..., :2, j]
            score = (p - t).abs().float() * f.scale if group == "real" else (p == t).float()
            for kind, sel in (("velocities", recorded), ("no velocities", ~recorded)):
                mask = on & sel & present[..., offset[group] + j]
                row = sums.setdefault(kind, {}).setdefault(f.name, [0.0, 0])
                row[0] += float(score[mask].sum())
                row[1] += int(mask.sum())
    return {kind: {name: round(v / n, 4) for name, (v, n) in rows.items() if n} for kind, rows in sums.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", nargs="?", help="a checkpoint folder (default: the shipped model)")
    ap.add_argument("--store", default="data/all-store", help="a packed store (default: data/all-store)")
    ap.add_argument("--split", default="val")
    ap.add_argument("--batches", type=int, default=8, help="batches of 16 windows of 61 frames")
    ap.add_argument("--all-fields", action="store_true", help="every predicted field, not only x and y")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        model = load(args.checkpoint or default_checkpoint()).model
        check = field_errors if args.all_fields else errors
        out = check(model, Store(args.store), args.split, args.batches)
    except Exception as exc:  # noqa: BLE001 - a bad path is one line, not a traceback
        sys.exit(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
