"""The `dreamland eval` and `dreamland compare` subcommands, ready to be added to the CLI:

    from dreamland.evaluate.command import add_compare_parser, add_eval_parser
    add_eval_parser(sub)      # in cli.build_parser, beside the other subcommands
    add_compare_parser(sub)

Each sets `func` on its parser; the functions report bad input (`EvaluationError`) as one line on
stderr and return 2 themselves, like the other commands.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from dreamland.arguments import add_split_arguments, int_at_least, split_spec
from dreamland.evaluate.errors import EvaluationError

if TYPE_CHECKING:  # the stepper module pulls in torch, which `dreamland --help` need not load
    from dreamland.steppers.protocol import Stepper


def _horizons(text: str) -> tuple[int, ...]:
    try:
        hs = tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected frame counts like 1,5,10,20,60,300, got {text!r}") from None
    if not hs or hs[0] < 1:
        raise argparse.ArgumentTypeError(f"horizons must be >= 1 frame, got {text!r}")
    return hs


def add_eval_parser(sub) -> argparse.ArgumentParser:
    from dreamland.evaluate.defaults import DEFAULT_CONTEXT, HORIZONS

    count, positive = int_at_least(0), int_at_least(1)

    p = sub.add_parser(
        "eval",
        help="evaluate a world model against the real game (rollouts, baselines, probe) and write a report",
        description="Evaluate a world model on replays it never saw: teacher-forced and rollout figures at "
        "several horizons, plausibility, the controllability probe, beside the 'hold', 'constant "
        "velocity' and 'lookup' (actions counted over the store's training games) baselines on the same starts. Writes REPORT_DIR/metrics.json and report.html "
        "(see docs/evaluation.md). Example: dreamland eval runs/small/last --store data/melee-store "
        "--split test --out reports/small",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT", nargs="?", default=None,
                   help="a checkpoint file or folder, or a baseline name: hold, constant-velocity, lookup "
                   "(default: the model shipped with dreamland)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--replays", nargs="+", metavar="PATH",
                     help="replay files, folders or archives, read on the fly (unreadable ones are skipped "
                     "and counted)")
    src.add_argument("--store", metavar="STORE", help="a packed store (dreamland pack)")
    p.add_argument("--split", default="test", choices=("train", "val", "test", "heldout", "all"),
                   help="which games of --store (default: test)")
    p.add_argument("--all-games", action="store_true",
                   help="with --store, use every two-player game of the split, not only training-eligible "
                   "ones (--replays always uses every two-player game)")
    p.add_argument("--since", metavar="VERSION",
                   help="with --store, only the games recorded by this Slippi version or later (3.0.0: the "
                   "games that recorded velocities and hitlag); default: every version")
    add_split_arguments(p)
    p.add_argument("--out", required=True, metavar="REPORT_DIR",
                   help="report folder (created; an earlier report there is replaced)")
    p.add_argument("--context", type=positive, default=None, metavar="K",
                   help=f"real frames that seed each rollout (default: the model's, else {DEFAULT_CONTEXT})")
    p.add_argument("--starts", type=positive, default=300, metavar="S",
                   help="rollout starting points (default: 300)")
    p.add_argument("--horizons", type=_horizons, default=HORIZONS, metavar="H,H,...",
                   help="frames after the seed where figures are taken (default: 1,5,10,20,60,300)")
    p.add_argument("--seed", type=int, default=0, help="chooses the starts (default: 0)")
    p.add_argument("--tolerance", type=count, default=5, metavar="FRAMES",
                   help="how far apart a predicted and a real event may be to match (default: 5)")
    p.add_argument("--teacher-forced", type=count, default=4096, metavar="N",
                   help="positions for the teacher-forced figures; 0 skips them (default: 4096)")
    p.add_argument("--probe", type=count, default=128, metavar="N",
                   help="positions for the controllability probe; 0 skips it (default: 128)")
    p.add_argument("--trajectories", type=count, default=4, metavar="N",
                   help="rollouts drawn over the stage in the report (default: 4)")
    p.add_argument("--batch-size", type=positive, default=256,
                   help="rollouts stepped together (default: 256)")
    p.add_argument("--event-weight", type=float, default=None, metavar="W",
                   help="decode as if the model had been trained with loss_event_weight W (1 = no "
                        "calibration) instead of the weight it was trained with: calibration studies")
    p.add_argument("--device", default="cpu", help="torch device for the model (default: cpu)")
    p.add_argument("--threads", type=positive, default=None,
                   help="torch CPU threads (default: torch's choice; 1 is often fastest for small batches)")
    p.add_argument("--workers", type=positive, default=None, help="replay parser processes for --replays")
    p.add_argument("--json", action="store_true",
                   help="print only the headline figures as one JSON object on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=cmd_eval)
    return p


def add_compare_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "compare",
        help="show the headline figures of several evaluation reports side by side",
        description="Print the headline figures (position error, action and action-change accuracy per "
        "horizon) of several `dreamland eval` reports side by side, and plot them into an HTML page. "
        "Example: dreamland compare reports/small reports/medium --out comparison.html",
    )
    p.add_argument("reports", nargs="+", metavar="REPORT_DIR")
    p.add_argument("--out", default="comparison.html", metavar="HTML",
                   help="the comparison page (default: comparison.html)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--fields", metavar="H", nargs="?", const="1", default=None,
                   help="also print every predicted field at horizon H (default 1) beside the baselines")
    p.set_defaults(func=cmd_compare)
    return p


def _fail(args: argparse.Namespace, exc: Exception) -> int:
    print(f"dreamland {args.command}: error: {exc}", file=sys.stderr)
    return 2


def _summary(metrics: dict) -> str:
    h = metrics["headline"]
    model = metrics["meta"]["model"]
    hs = list(h["pos_mae"])
    rows = [(model, h)] + [(b, v) for b, v in h["baselines"].items() if b != model]
    lines = []
    for key, label in (("pos_mae", "position MAE"), ("action_acc", "action accuracy"),
                       ("action_change_acc", "action-change accuracy")):
        lines.append(f"{label:<24}" + "".join(f"{'@' + x:>9}" for x in hs))
        for name, figs in rows:
            vals = figs[key]
            lines.append(f"  {name:<22}" + "".join(f"{'-' if vals.get(x) is None else format(vals[x], '.3f'):>9}"
                                                   for x in hs))
    return "\n".join(lines)


def _decode_with_event_weight(stepper, weight: float) -> None:
    import math

    rules = getattr(getattr(stepper, "model", None), "rules", None)
    if rules is None:
        raise EvaluationError("--event-weight applies to a world model, not to a baseline")
    if not weight > 0:
        raise EvaluationError(f"--event-weight must be positive, got {weight}")
    rules.log_event_weight = math.log(weight)


def stepper_for_checkpoint(checkpoint: str | Path | None, device: str = "cpu") -> "Stepper | str":
    """The stepper CHECKPOINT names (`steppers.load.load_stepper`: a checkpoint folder, or None
    for the model shipped with dreamland), or a baseline's name as given, which `evaluate` builds
    once the store is known (the lookup counts its table over it). One-line `EvaluationError`."""
    from dreamland.model.checkpoint import CheckpointError
    from dreamland.steppers.baselines import baseline_name
    from dreamland.steppers.load import load_stepper

    if checkpoint is not None and baseline_name(str(checkpoint)):
        return str(checkpoint)
    try:
        return load_stepper(checkpoint, device=device)
    except CheckpointError as exc:
        raise EvaluationError(str(exc)) from None


def cmd_eval(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from dreamland.data.store import Store, StoreError
    from dreamland.evaluate.run import DEFAULT_CONTEXT, evaluate, store_from_replays
    from dreamland.steppers.baselines import baseline_name

    log = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        stepper = stepper_for_checkpoint(args.checkpoint, args.device)
        context = args.context or int(getattr(stepper, "context", 0) or DEFAULT_CONTEXT)
        meta = {"checkpoint": args.checkpoint or "default model"}
        if args.event_weight is not None:
            _decode_with_event_weight(stepper, args.event_weight)
            meta["event_weight"] = args.event_weight
        kwargs = dict(context=context, starts=args.starts, horizons=args.horizons, seed=args.seed,
                      out_dir=args.out, tolerance=args.tolerance, batch_size=args.batch_size,
                      teacher_forced=args.teacher_forced, probe=args.probe,
                      trajectories=args.trajectories, device=args.device, log=log)
        name = (args.checkpoint and baseline_name(args.checkpoint)) or "model"
        if args.replays:
            with store_from_replays(args.replays, workers=args.workers, log=log) as (store, info):
                games = store.games_in("all", eligible_only=False)
                meta.update({"replays": list(args.replays), **info, "store": None})
                metrics = evaluate(stepper, store, games, model_name=name, meta=meta, **kwargs)
        else:
            store = Store(args.store)
            games = store.games_in(args.split, split_spec(args), eligible_only=not args.all_games)
            if args.since:
                games = store.recorded_since(games, args.since)
            if len(games) == 0:
                raise EvaluationError(f"{args.store}: the {args.split} split has no games"
                                      + (f" recorded by Slippi {args.since} or later" if args.since else "")
                                      + ("" if args.all_games else " (only training-eligible games count; "
                                         "see --all-games)"))
            meta.update({"split": args.split, **({"since": args.since} if args.since else {})})
            metrics = evaluate(stepper, store, np.asarray(games), model_name=name, meta=meta, **kwargs)
    except (EvaluationError, StoreError) as exc:
        return _fail(args, exc)
    if args.json:
        print(json.dumps(metrics["headline"]))
    else:
        print(_summary(metrics))
        print(f"report: {args.out}/report.html ({metrics['meta']['seconds']:.1f} s)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from dreamland.evaluate.compare import compare, format_fields

    try:
        text, data = compare(args.reports, args.out)
        fields = format_fields(args.reports, args.fields) if args.fields else ""
    except EvaluationError as exc:
        return _fail(args, exc)
    if args.json:
        print(json.dumps({r["name"]: r["headline"] for r in data["runs"]}))
    else:
        print(text, end="")
        print(fields, end="")
        print(f"plots: {args.out}")
    return 0
