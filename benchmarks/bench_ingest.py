"""Ingest speed, size on disk and memory, beside the bare peppi read of the same files.

    python benchmarks/bench_ingest.py [--replays ../shared/replays] [--repeat 3] [--json]

Input: the full games of the test corpus (peppi reads them and they have at least 3,600 distinct
frames: 42 files). One worker, so the figure is per core. Baseline: `peppi_py.read_slippi(path)`
on the same files in the same run (what every peppi-based pipeline pays at least). Also timed: the
Parquet write alone of the same games' tables, so the floor of read + write is visible. Peak memory is
measured in fresh processes for half and for all of the games: it must not grow with the count.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def full_games(replays: Path) -> list[Path]:
    with open(replays / "INVENTORY.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [
        replays / r["file"]
        for r in rows
        if r["parse_ok"] == "ok" and int(r["unique_frame_ids"] or 0) >= 3600
    ]


def bare_read(files: list[Path]) -> float:
    import peppi_py

    t0 = time.perf_counter()
    for f in files:
        peppi_py.read_slippi(str(f))
    return time.perf_counter() - t0


def parquet_write(files: list[Path], out: Path) -> float:
    """Seconds to write the parsed tables of `files` as ingest does (same function, same batches of
    CHUNK_GAMES), with no parsing, hashing or bookkeeping: what the Parquet encoding alone costs."""
    import pyarrow as pa

    from dreamland.replay.ingest import CHUNK_GAMES, _write_parquet
    from dreamland.replay.parse import parse_game

    parsed = [parse_game(str(f), f"{i:064d}") for i, f in enumerate(files)]
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i in range(0, len(parsed), CHUNK_GAMES):
        chunk = parsed[i:i + CHUNK_GAMES]
        _write_parquet(pa.concat_tables([g.players for g in chunk]), out / f"players-{i}.parquet")
        _write_parquet(pa.concat_tables([g.items for g in chunk]), out / f"items-{i}.parquet")
    return time.perf_counter() - t0


def ours(files: list[Path], out: Path) -> tuple[float, dict]:
    from dreamland.replay.ingest import ingest

    folder = out.parent / "inputs"
    folder.mkdir(exist_ok=True)
    for f in files:
        link = folder / f.name
        if not link.exists():
            link.symlink_to(f)
    t0 = time.perf_counter()
    summary = ingest([str(folder)], out, workers=1)
    return time.perf_counter() - t0, summary.as_dict()


def _child(kind: str, n: int, replays: str) -> None:
    """Run one measurement in this fresh process and print its peak RSS."""
    files = full_games(Path(replays))[:n]
    tmp = Path(tempfile.mkdtemp())
    try:
        if kind == "bare":
            bare_read(files)
        else:
            ours(files, tmp / "ds")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def peak_rss(kind: str, n: int, replays: Path) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(n), "--replays", str(replays)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replays", type=Path, default=ROOT.parent / "shared" / "replays")
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), str(args.replays))
        return
    files = full_games(args.replays)
    if not files:
        sys.exit(f"no full games found in {args.replays}")

    bare_read(files[:3])  # warm the page cache and the imports
    bare = min(bare_read(files) for _ in range(args.repeat))
    best, summary, size = None, None, 0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "ds"
            seconds, summary = ours(files, out)
            size = sum(p.stat().st_size for p in (out / "parts").rglob("*.parquet"))
            best = seconds if best is None else min(best, seconds)
    with tempfile.TemporaryDirectory() as tmp:
        write = min(parquet_write(files, Path(tmp) / str(i)) for i in range(args.repeat))
    frames = summary["frames"]
    half = max(1, len(files) // 2)
    result = {
        "games": len(files),
        "frames": frames,
        "ingest_ms_per_game": 1000 * best / len(files),
        "bare_read_ms_per_game": 1000 * bare / len(files),
        "ratio_to_bare_read": best / bare,
        "parquet_write_ms_per_game": 1000 * write / len(files),
        "floor_ratio_read_plus_write": (bare + write) / bare,
        "frames_per_s": frames / best,
        "bytes_per_frame": size / frames,
        "dataset_bytes": size,
        f"peak_rss_mb_{half}_games": peak_rss("ours", half, args.replays),
        f"peak_rss_mb_{len(files)}_games": peak_rss("ours", len(files), args.replays),
        f"bare_read_peak_rss_mb_{len(files)}_games": peak_rss("bare", len(files), args.replays),
        "cpu": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"ingest of {result['games']} full games ({frames} frames), one worker, best of {args.repeat}")
    print(f"  dreamland ingest     {result['ingest_ms_per_game']:8.1f} ms/game  "
          f"{result['frames_per_s'] / 1e6:6.2f} M frames/s")
    print(f"  bare peppi read      {result['bare_read_ms_per_game']:8.1f} ms/game")
    print(f"  ratio to bare read   {result['ratio_to_bare_read']:8.2f} x   (target <= 2)")
    print(f"  Parquet write alone  {result['parquet_write_ms_per_game']:8.1f} ms/game  "
          f"(bare read + write: {result['floor_ratio_read_plus_write']:.2f} x the bare read)")
    print(f"  on disk              {result['bytes_per_frame']:8.1f} bytes/frame (target <= 40)")
    for k, v in result.items():
        if k.startswith(("peak", "bare_read_peak")):
            print(f"  {k:<28}{v:8.0f}")


if __name__ == "__main__":
    main()
