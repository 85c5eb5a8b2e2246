"""Where a model's one-frame position error comes from: games with and without velocities.

Teacher-forced on validation windows (K = 60 real frames, then the next frame), the mean |error|
of x and y in game units, for the model, constant velocity (x(t) + x(t) - x(t-1)) and the position
rule fed the real next velocities (with `motion_rules`, the displacement where a game has none:
docs/model.md), split by whether the game recorded velocities
(Slippi 3.0 and later) or not:

    python benchmarks/position_check.py                      # the shipped model
    python benchmarks/position_check.py runs/X/checkpoints/step-00000500 --store data/all-store
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


@torch.no_grad()
def errors(model, store: Store, split: str = "val", batches: int = 8, seed: int = 5, context: int = 60) -> dict:
    """{"x"|"y": {"velocities"|"no velocities": {"frames", "model", "constant velocity", "rule"}}}"""
    priors = model.rules.priors
    if priors is None:
        raise ValueError("the model has no rule priors (model.rule_priors): nothing to split")
    sampler = WindowSampler(store, store.games_in(split), context, 16, seed=seed)
    sums: dict = {}
    for i, batch in enumerate(sampler.batches(0)):
        if i >= batches:
            break
        inputs, controllers, targets = prepare_window(encode(to_torch(batch, "cpu")))
        pred = predict_window(model, inputs, controllers)["char_real"]
        ruled = priors.base(inputs["char_real"], inputs["char_cat"], targets["char_real"], targets["char_bin"],
                            model.window_motion(inputs), inputs["present"])
        on = (inputs["char_exists"][..., :2] > 0.5) & (targets["char_exists"][..., :2] > 0.5)
        on[:, 0] = False  # constant velocity needs the frame before
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", nargs="?", help="a checkpoint folder (default: the shipped model)")
    ap.add_argument("--store", default="data/all-store", help="a packed store (default: data/all-store)")
    ap.add_argument("--split", default="val")
    ap.add_argument("--batches", type=int, default=8, help="batches of 16 windows of 61 frames")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    try:
        model = load(args.checkpoint or default_checkpoint()).model
        out = errors(model, Store(args.store), args.split, args.batches)
    except Exception as exc:  # noqa: BLE001 - a bad path is one line, not a traceback
        sys.exit(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
