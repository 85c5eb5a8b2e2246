"""`dreamland <command>`: parses arguments and calls the library; nothing else lives here."""

from __future__ import annotations

import argparse
import json
import os
import sys

from dreamland import __version__


class UserError(Exception):
    """Bad input from the user: reported as one line, exit status 2."""


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected i/n such as 0/4, got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"expected 0 <= i < n, got {text!r}")
    return i, n


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dreamland",
        description="Learn Super Smash Bros. Melee from Slippi replays, then play what was learned.",
    )
    parser.add_argument("--version", action="version", version=f"dreamland {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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

    p = sub.add_parser("stats", help="summarise a dataset: games, failures, frames, characters",
                       description="Summarise an ingested dataset from its manifest. "
                       "Example: dreamland stats data/melee --json")
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    from dreamland.replay.dataset import DatasetError
    from dreamland.replay.sources import SourceError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (UserError, SourceError, DatasetError) as exc:
        print(f"dreamland {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dreamland {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
