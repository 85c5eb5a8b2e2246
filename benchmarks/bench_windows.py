"""Training windows per second from a store, beside a plain numpy gather of the same arrays.

    python benchmarks/bench_windows.py --store STORE [--context 60] [--batch 256] [--batches 200]
    python benchmarks/bench_windows.py --replays ../shared/replays   # ingests and packs first

One process, one thread of numpy work. The floor is the least any loader must do: one numpy
fancy-index gather of every array of the store at the same window positions, into new arrays.
The loader refills the arrays of batches that nobody holds any more (data/windows.py); the
"fresh arrays" row switches that off. The figure that
matters is frames per second delivered as training batches (batch x (K+1) frames per batch).
Also printed: the store's bytes per frame and resident memory while iterating.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]


def build_store(replays: list[str], workdir: Path) -> Path:
    from dreamland.data.store import pack
    from dreamland.replay.ingest import ingest

    ingest(replays, workdir / "dataset")
    pack(workdir / "dataset", workdir / "store")
    return workdir / "store"


def record_indices(store, starts: np.ndarray, window: int) -> np.ndarray:
    idx = (starts[:, None] + np.arange(window)).ravel()
    first, last = store["item_start"][idx], store["item_start"][idx + 1]
    return np.concatenate([np.arange(a, b) for a, b in zip(first, last)])


def numpy_floor(store, idx: np.ndarray, records: np.ndarray) -> None:
    """One fancy-index gather per array at the windows' frames and item records: no follower
    lookup, no slot scatter, no output layout. Index computation is done beforehand."""
    for name, arr in store._arrays.items():
        if name.startswith(("player_", "controller_", "frame_id")):
            arr[idx]
    for name in ("item_real", "item_small", "item_slot"):
        store[name][records]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path)
    parser.add_argument("--replays", nargs="*", default=[
        str(ROOT.parent / "shared" / "replays"), str(ROOT.parent / "shared" / "replays-extra" / "games.7z")])
    parser.add_argument("--context", type=int, default=60)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from dreamland.data.store import Store
    from dreamland.data.windows import Augment, WindowSampler

    tmp = None
    path = args.store
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        path = build_store(args.replays, Path(tmp.name))
    store = Store(path)
    games = store.games_in("all", eligible_only=False)
    for arr in store._arrays.values():  # page the store in first: both sides then read from memory
        np.asarray(arr).view(np.uint8).sum()
    proc = psutil.Process()

    def anon() -> int:  # resident memory that is not file-backed (mmap pages of the store are)
        m = proc.memory_info()
        return m.rss - m.shared

    rss0 = anon()
    frames_per_batch = args.batch * (args.context + 1)
    results = {}
    # Fresh arrays first: later, the memory the other samplers free makes new arrays cheap or not
    # depending on what the allocator kept, which is the variance that reusing arrays removes.
    for label, aug, reuse in (("windows, fresh arrays", Augment(), False), ("windows", Augment(), True),
                              ("windows+augment", Augment(True, True), True)):
        sampler = WindowSampler(store, games, args.context, args.batch, seed=0, augment=aug)
        sampler.gather.reuse = reuse
        n, t0, peak = 0, time.perf_counter(), 0
        epoch = 0
        while n < args.batches:
            for _ in sampler.batches(epoch):
                n += 1
                peak = max(peak, anon()) if n % 20 == 0 else peak
                if n >= args.batches:
                    break
            epoch += 1
        seconds = time.perf_counter() - t0
        results[label] = {"frames_per_s": n * frames_per_batch / seconds, "peak_rss_mb": peak / 2**20}
    sampler = WindowSampler(store, games, args.context, args.batch, seed=0)
    starts, _ = sampler.epoch_windows(0)
    n = min(args.batches, len(starts) // args.batch)
    prepared = []
    for i in range(n):
        chunk = starts[i * args.batch:(i + 1) * args.batch]
        prepared.append((chunk[:, None] + np.arange(sampler.window),
                         record_indices(store, chunk, sampler.window)))
    t0 = time.perf_counter()
    for idx, records in prepared:
        numpy_floor(store, idx, records)
    floor = n * frames_per_batch / (time.perf_counter() - t0)
    size = sum(p.stat().st_size for p in store.path.glob("*.npy"))
    report = {
        "games": len(store),
        "frames": store.frames,
        "context": args.context,
        "batch": args.batch,
        "frames_per_s": results["windows"]["frames_per_s"],
        "frames_per_s_augmented": results["windows+augment"]["frames_per_s"],
        "frames_per_s_fresh_arrays": results["windows, fresh arrays"]["frames_per_s"],
        "numpy_floor_frames_per_s": floor,
        "ratio_to_floor": floor / results["windows"]["frames_per_s"],
        "bytes_per_frame": size / store.frames,
        "rss_before_mb": rss0 / 2**20,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results.values()),
        "store_mb": size / 2**20,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"store: {report['games']} games, {report['frames']} frames, "
              f"{report['bytes_per_frame']:.0f} bytes/frame (target <= 200)")
        print(f"batches of {args.batch} x (K+1 = {args.context + 1}) frames, one process")
        print(f"  windows               {report['frames_per_s'] / 1e6:6.2f} M frames/s (target >= 1)")
        print(f"  windows + augment     {report['frames_per_s_augmented'] / 1e6:6.2f} M frames/s")
        print(f"  windows, fresh arrays {report['frames_per_s_fresh_arrays'] / 1e6:6.2f} M frames/s "
              "(reuse off: a new set of arrays per batch)")
        print(f"  numpy gather (floor)  {floor / 1e6:6.2f} M frames/s")
        print(f"  ratio floor / windows {report['ratio_to_floor']:6.2f} x   (target <= 1.5)")
        print(f"  anonymous memory      {report['rss_before_mb']:.0f} MB before, "
              f"{report['peak_rss_mb']:.0f} MB peak while iterating (store: {report['store_mb']:.0f} MB, "
              "paged in by the OS as file cache)")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
