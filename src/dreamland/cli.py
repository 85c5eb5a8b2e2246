"""`dreamland <command>`: parses arguments and calls the library; nothing else lives here."""

from __future__ import annotations

import argparse
import json
import os
import sys

from dreamland import __version__
from dreamland.arguments import add_split_arguments, int_at_least, split_spec
from dreamland.model.config import COMPILE_MODES, WEIGHT_DTYPES

BENCH_STEP_MODES = ("eager", "aot")  # every mode and batch size takes minutes: on request only


class UserError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage is one `--help` away)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected i/n such as 0/4, got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"expected 0 <= i < n, got {text!r}")
    return i, n


_positive_int = int_at_least(1)


def _cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from dreamland.replay.ingest import Filters, ingest
    from dreamland.replay.stats import dataset_stats, format_stats
    from dreamland.replay.dataset import Dataset
    from dreamland.schema.characters import external_character_id
    from dreamland.schema.stages import external_stage_id

    try:
        filters = Filters(
            only_eligible=args.only_eligible,
            min_frames=args.min_frames,
            stages=frozenset(external_stage_id(s) for s in args.stage),
            characters=frozenset(external_character_id(c) for c in args.character),
        )
    except KeyError as exc:
        raise UserError(str(exc.args[0])) from None
    bar = tqdm(unit="game", desc="ingest", disable=args.quiet or None, dynamic_ncols=True)

    def progress(n: int, s: dict) -> None:
        if bar.total is None and s["expected"] is not None:
            bar.total = s["expected"]
        bar.update(n)
        bar.set_postfix(ok=s["games_ok"], failed=s["games_failed"], frames=s["frames"])

    try:
        summary = ingest(
            args.sources,
            args.out,
            workers=args.workers,
            shard=args.shard,
            filters=filters,
            chunk_games=args.chunk_games,
            progress=progress,
            notify=lambda line: print(f"dreamland ingest: {line}", file=sys.stderr, flush=True),
        )
    finally:
        bar.close()
    result = summary.as_dict()
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{result['replays_seen']} replays in {result['seconds']:.1f} s: {result['games_ok']} ok, "
        f"{result['games_failed']} failed, {result['games_filtered']} filtered, "
        f"{result['duplicates']} duplicates, {result['already_in_dataset']} already in the dataset; "
        f"{result['frames']} frames written"
    )
    for why, n in result["failures_by_reason"].items():
        print(f"  failed  {n:>5}  {why}")
    for err in result["archive_errors"]:
        print(f"  skipped {err}")
    if not args.quiet:
        print("\ndataset now holds:\n" + format_stats(dataset_stats(Dataset(args.out))))
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from dreamland.replay.dataset import Dataset
    from dreamland.replay.stats import dataset_stats, format_stats

    stats = dataset_stats(Dataset(args.dataset))
    print(json.dumps(stats) if args.json else format_stats(stats))
    return 0


def _cmd_pack(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from dreamland.data.store import pack

    bar = tqdm(unit="game", desc="pack", disable=args.quiet or None, dynamic_ncols=True)
    try:
        summary = pack(args.dataset, args.out, progress=bar.update)
    finally:
        bar.close()
    s = summary.as_dict()
    if args.json:
        print(json.dumps(s))
        return 0
    print(
        f"packed {s['games']} games, {s['frames']} frames, {s['item_records']} item records in "
        f"{s['seconds']:.1f} s: {s['bytes'] / 1e6:.1f} MB, {s['bytes_per_frame']:.0f} bytes/frame"
    )
    if s["items_without_slot"]:
        print(f"  {s['items_without_slot']} item records had no free slot (see docs/store.md)")
    for why, n in (s["skipped"] or {}).items():
        print(f"  skipped {n:>5}  {why}")
    return 0


def _cmd_store(args: argparse.Namespace) -> int:
    from dreamland.data.store import SPLITS, Store
    from dreamland.data.windows import WindowSampler

    store = Store(args.store)
    spec = split_spec(args)
    report = {"store": str(store.path), "games": len(store), "frames": store.frames, "splits": {}}
    for split in SPLITS + ("heldout",):
        games = store.games_in(split, spec, eligible_only=not args.all_games)
        entry = {"games": int(len(games)), "frames": int(store.length[games].sum())}
        if args.context and len(games):
            sampler = WindowSampler(store, games, args.context, args.batch_size)
            entry["windows_per_epoch"] = int(sampler.per_rank)
            entry["batches_per_epoch"] = len(sampler)
        report["splits"][split] = entry
    if args.split:
        games = store.games_in(args.split, spec, eligible_only=not args.all_games)
        WindowSampler(store, games, args.context or 1, args.batch_size)  # validates K and split
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{report['store']}: {report['games']} games, {report['frames']} frames")
    for split, e in report["splits"].items():
        extra = f", {e['windows_per_epoch']} windows of K+1 = {args.context + 1} frames" if "windows_per_epoch" in e else ""
        print(f"  {split:<8} {e['games']:>6} games {e['frames']:>10} frames{extra}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from dreamland.config import ConfigError
    from dreamland.train.config import load_config, load_run_config
    from dreamland.train.loop import TrainError, train
    from dreamland.train.runtime import relaunch_with_allocator

    overrides = list(args.overrides)
    if args.store:
        overrides.append(f"data.store={args.store}")
    if args.context:
        overrides.append(f"data.context={args.context}")
    if args.max_steps:
        overrides.append(f"run.max_steps={args.max_steps}")
    if args.max_minutes:
        overrides.append(f"run.max_minutes={args.max_minutes}")
    presets = args.preset or ["small"]
    try:
        if args.resume:
            config = load_run_config(args.run_dir, overrides)
        else:
            config = load_config(presets, overrides)
        relaunch_with_allocator(config.run.allocator, config.run.device)
        summary = train(config, args.run_dir, resume=args.resume, progress=not args.quiet)
    except (ConfigError, TrainError) as exc:
        raise UserError(str(exc)) from None
    print(json.dumps(summary) if args.json else
          f"stopped at step {summary['step']} ({summary['stop']}) after {summary['seconds']:.0f} s; "
          f"checkpoints in {summary['run_dir']}/checkpoints")
    return 0


def _cmd_play(args: argparse.Namespace) -> int:
    from dreamland.model.checkpoint import CheckpointError
    from dreamland.play.server import serve

    try:
        return serve(
            args.checkpoint, host=args.host, port=args.port, stage=args.stage,
            characters=tuple(args.characters), slots=tuple(args.slots), replay=args.replay,
            replays=args.replays, open_browser=not args.no_browser,
            compile=False if args.compile == "eager" else args.compile,
            dtype=None if args.dtype == "float32" else args.dtype, allow_hosts=tuple(args.allow_host),
        ) or 0
    except CheckpointError as exc:
        raise UserError(str(exc)) from None
    except NotADirectoryError as exc:
        raise UserError(f"--replays {exc}") from None
    except OSError as exc:
        raise UserError(f"cannot serve on {args.host}:{args.port} ({exc.strerror or exc})") from None


def _cmd_model_info(args: argparse.Namespace) -> int:
    from pathlib import Path

    from dreamland.model.bench import model_info
    from dreamland.model.checkpoint import CheckpointError
    from dreamland.model.config import PRESETS, ConfigError, preset

    if args.preset not in PRESETS:
        if not Path(args.preset).is_dir():
            raise UserError(f"{args.preset}: neither a preset ({', '.join(PRESETS)}) nor a checkpoint folder")
        if args.overrides:
            raise UserError("FIELD=VALUE overrides apply to a preset, not to a checkpoint")
    try:
        config = preset(args.preset, **_model_overrides(args.overrides)) if args.preset in PRESETS else args.preset
        info = model_info(config)
    except (ConfigError, CheckpointError, TypeError) as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(info))
    else:
        for key, value in info.items():
            print(f"{key:<24} {value:,}" if isinstance(value, int) else f"{key:<24} {value}")
    return 0


def _model_overrides(items: list[str]) -> dict:
    from dreamland.config import parse_override

    out: dict = {}
    for item in items:
        tree = parse_override(item)
        key = next(iter(tree))
        value = tree[key]
        if key == "mamba" and isinstance(value, dict) and not any(isinstance(v, dict) for v in value.values()):
            out.setdefault("mamba", {}).update(value)  # the mixer's keys: mamba.d_state=32
        elif isinstance(value, dict):
            raise UserError(f"{item}: model fields are plain names, such as n_layers=3, or mamba.NAME "
                            "for the mixer's (mamba.d_state=32)")
        else:
            out[key] = value
    return out


def _cmd_bench_step(args: argparse.Namespace) -> int:
    from dreamland.model.bench import bench_step, format_table

    modes = ("eager",) if args.no_compile else tuple(args.mode or BENCH_STEP_MODES)
    result = bench_step(args.model, batch_sizes=tuple(args.batch or (1,)), threads=args.threads,
                        frames=args.frames, dtype=args.dtype, modes=modes)
    print(json.dumps(result) if args.json else format_table(result))
    return 0


def _add_ingest_parser(sub) -> argparse.ArgumentParser:
    """`dreamland ingest`: replays into a dataset."""
    p = sub.add_parser(
        "ingest",
        help="read replays (files, folders, .zip/.7z/.tar archives) into a Parquet dataset",
        description="Read Slippi replays into a deduplicated Parquet dataset. Reruns add only new "
        "games; a killed run leaves nothing half-written and the next run completes it. "
        "Example: dreamland ingest ~/Slippi replays.7z --out data/melee",
    )
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help=".slp/.slp.gz files, folders (searched recursively), or archives")
    p.add_argument("--out", required=True, metavar="DATASET", help="dataset folder (created)")
    p.add_argument("--workers", type=_positive_int, default=None,
                   help=f"parser processes (default: all cores, {os.cpu_count()} here)")
    p.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                   help="process only the I-th of N deterministic parts of the sources, so N "
                   "machines can ingest into one dataset (0-based: 0/4 .. 3/4)")
    p.add_argument("--only-eligible", action="store_true",
                   help="keep only games fit for training (two humans, legal stage, >= 1 minute, "
                   "finished); others are listed in the manifest as filtered")
    p.add_argument("--min-frames", type=int, default=0, help="keep games with at least N frames")
    p.add_argument("--stage", action="append", default=[], metavar="STAGE",
                   help="keep games on this stage (name or start-block id); repeatable")
    p.add_argument("--character", action="append", default=[], metavar="CHARACTER",
                   help="keep games with this character (name or character-select id); repeatable")
    p.add_argument("--chunk-games", type=_positive_int, default=16, metavar="N",
                   help="replays per published batch: a killed run redoes at most one batch per "
                   "worker (default: 16)")
    p.add_argument("--json", action="store_true", help="print the run summary as one JSON object")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or dataset table")
    p.set_defaults(func=_cmd_ingest)
    return p


def _add_stats_parser(sub) -> argparse.ArgumentParser:
    """`dreamland stats`: a dataset's summary."""
    p = sub.add_parser("stats", help="summarise a dataset: games, failures, frames, characters",
                       description="Summarise an ingested dataset from its manifest. "
                       "Example: dreamland stats data/melee --json")
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_stats)
    return p


def _add_pack_parser(sub) -> argparse.ArgumentParser:
    """`dreamland pack`: a dataset into a training store."""
    p = sub.add_parser("pack", help="pack a dataset's two-player games into a training store",
                       description="Pack every two-player game of a dataset into memory-mapped "
                       "arrays for training (see docs/store.md). "
                       "Example: dreamland pack data/melee --out data/melee-store")
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--out", required=True, metavar="STORE", help="store folder (must not exist)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_pack)
    return p


def _add_store_parser(sub) -> argparse.ArgumentParser:
    """`dreamland store`: a store's splits and windows."""
    p = sub.add_parser("store", help="show a store's splits and how many windows they give",
                       description="Summarise a packed store: games and frames per split, and "
                       "windows per epoch for a context length. "
                       "Example: dreamland store data/melee-store --context 60")
    p.add_argument("store", metavar="STORE")
    p.add_argument("--context", type=_positive_int, default=0, metavar="K",
                   help="also count windows of K+1 frames")
    p.add_argument("--batch-size", type=_positive_int, default=256)
    p.add_argument("--split", choices=("train", "val", "test", "heldout"),
                   help="fail (exit 2) unless this split has windows of K+1 frames")
    p.add_argument("--all-games", action="store_true",
                   help="count every two-player game, not only training-eligible ones")
    add_split_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_store)
    return p


def _add_train_parser(sub) -> argparse.ArgumentParser:
    """`dreamland train`: train a world model."""
    from dreamland.train.config import preset_names

    p = sub.add_parser(
        "train", help="train a world model on a store (CPU, one GPU, or torchrun for many)",
        description="Train the world model. Presets stack (later ones win), then KEY=VALUE "
        "overrides of the config tree (see docs/training.md). Under torchrun every process "
        "trains a share of each batch (DDP). Example: dreamland train --store data/store "
        "--preset small --preset self-forcing --context 30 optim.lr=5e-4 --run-dir runs/a",
    )
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides such as optim.lr=3e-4 data.batch_size=128")
    p.add_argument("--store", help="the packed store (dreamland pack)")
    p.add_argument("--preset", action="append", choices=preset_names(), metavar="PRESET",
                   help=f"config preset, repeatable: {', '.join(preset_names())} (default: small)")
    p.add_argument("--context", type=_positive_int, metavar="K", help="frames of context (data.context)")
    p.add_argument("--run-dir", required=True, help="where config, logs and checkpoints go")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir exactly")
    p.add_argument("--max-steps", type=_positive_int, help="stop after this many steps (run.max_steps)")
    p.add_argument("--max-minutes", type=float, help="stop after this long, with a checkpoint")
    p.add_argument("--json", action="store_true", help="print the final summary as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)
    return p


def _add_play_parser(sub) -> argparse.ArgumentParser:
    """`dreamland play`: the game server."""
    p = sub.add_parser(
        "play", help="play the model in the browser: two controller slots at 60 frames a second",
        description="Start the game server and open the page. Each slot takes a keyboard, a "
        "gamepad or a bot. Example: dreamland play runs/small/checkpoints/best --port 8000; with "
        "--replays ~/Slippi the page lists your games and plays the model beside any of them.",
    )
    p.add_argument("checkpoint", nargs="?", default=None,
                   help="a model checkpoint folder (default: the model shipped with dreamland); "
                   "'toy' runs the physics toy used by tests (not a model)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests for this host name (a reverse proxy's, say); by default only "
                   "this machine's own names and addresses are accepted; repeatable")
    p.add_argument("--stage", default="battlefield", help="stage name or start-block id")
    p.add_argument("--characters", nargs=2, default=["fox", "falco"], metavar=("P1", "P2"))
    p.add_argument("--slots", nargs=2, default=["chase", "chase"], metavar=("SLOT1", "SLOT2"),
                   help="keyboard, gamepad, idle, random, chase, or replay (default: two chase bots; switch a slot to keyboard or gamepad on the page)")
    p.add_argument("--replay", help="a .slp: the model starts from it, driven by its real inputs, with the real game "
                   "drawn as a ghost beside it (take over a slot on the page; it is also in the page's replay list)")
    p.add_argument("--replays", metavar="DIR",
                   help="a folder of replays (searched recursively for .slp files) that the page lists: pick one "
                   "there to watch the model beside it, leave it for a live game, without restarting the server; "
                   "the page can open only these files and the --replay file")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--compile", choices=COMPILE_MODES, default="aot",
                   help="how the model's step runs (default: aot, a native step that holds 60 Hz far better "
                   "than eager with the page open on two cores; its first build takes a minute or two, later "
                   "starts load it from $DREAMLAND_CACHE, default ~/.cache/dreamland); eager starts at once; "
                   "aot-tuned with --dtype float16 is the fastest for the large preset (docs/play.md)")
    p.add_argument("--dtype", choices=WEIGHT_DTYPES, default="float32",
                   help="precision of the model's weights while playing (default: float32)")
    p.set_defaults(func=_cmd_play)
    return p


def _add_model_parser(sub) -> argparse.ArgumentParser:
    """`dreamland model info`: a preset's or a checkpoint's parameter counts."""
    from dreamland.model.config import PRESETS as MODEL_PRESETS

    p = sub.add_parser("model", help="inspect a model preset or checkpoint (parameter counts)")
    model_sub = p.add_subparsers(dest="model_command", metavar="WHAT", required=True,
                                 parser_class=_Parser)
    q = model_sub.add_parser("info", help="parameter count of a preset or a checkpoint, per part",
                             description="Examples: dreamland model info large n_layers=8; "
                             "dreamland model info runs/small/checkpoints/best")
    q.add_argument("preset", nargs="?", default="small", metavar="PRESET_OR_CHECKPOINT",
                   help=f"a preset ({', '.join(MODEL_PRESETS)}; default small) or a checkpoint folder")
    q.add_argument("overrides", nargs="*", metavar="FIELD=VALUE", help="model config overrides")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_model_info)
    return p


def _add_bench_parser(sub) -> argparse.ArgumentParser:
    """`dreamland bench step`: milliseconds per frame of the step."""
    from dreamland.model.config import PRESETS as MODEL_PRESETS

    p = sub.add_parser("bench", help="benchmarks that belong to the command line")
    bench_sub = p.add_subparsers(dest="bench_command", metavar="WHAT", required=True,
                                 parser_class=_Parser)
    q = bench_sub.add_parser("step", help="milliseconds per frame of the step function",
                             description="Median and 99th-percentile ms per frame of a full step "
                             "(encode, model, decode), eager and AOT-compiled by default, beside "
                             "re-encoding a K=30 window every frame. Every compile mode and batch "
                             "size: --mode eager --mode aot --mode aot-tuned --mode inductor "
                             "--batch 1 --batch 2 (minutes: each mode compiles per batch size). "
                             "Example: dreamland bench step --model large")
    q.add_argument("--model", default="large", choices=list(MODEL_PRESETS))
    q.add_argument("--batch", type=_positive_int, action="append", help="repeatable (default 1)")
    q.add_argument("--mode", choices=COMPILE_MODES, action="append",
                   help=f"repeatable (default {' and '.join(BENCH_STEP_MODES)})")
    q.add_argument("--threads", type=_positive_int, default=2)
    q.add_argument("--dtype", default="float32", choices=WEIGHT_DTYPES)
    q.add_argument("--frames", type=_positive_int, default=300)
    q.add_argument("--no-compile", action="store_true", help="eager only")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_bench_step)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="dreamland",
        description="Learn Super Smash Bros. Melee from Slippi replays, then play what was learned.",
    )
    parser.add_argument("--version", action="version", version=f"dreamland {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=_Parser)
    # --help lists the commands in the order they are added here.
    _add_ingest_parser(sub)
    _add_stats_parser(sub)
    _add_pack_parser(sub)
    _add_store_parser(sub)

    from dreamland.evaluate.command import add_compare_parser, add_eval_parser

    add_eval_parser(sub)
    add_compare_parser(sub)
    _add_train_parser(sub)
    _add_play_parser(sub)
    _add_model_parser(sub)
    _add_bench_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from dreamland.data.store import StoreError
    from dreamland.replay.dataset import DatasetError
    from dreamland.replay.sources import SourceError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # KEY=VALUE overrides may sit anywhere among the options (argparse only takes positionals in
    # one run); anything else left over is an error as usual.
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides = list(args.overrides) + extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.func(args)
    except (UserError, SourceError, DatasetError, StoreError) as exc:
        print(f"dreamland {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dreamland {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `dreamland ... | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit's flush
        return 141


if __name__ == "__main__":
    sys.exit(main())
