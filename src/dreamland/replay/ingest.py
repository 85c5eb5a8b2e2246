"""`dreamland ingest`: replays in, a deduplicated, queryable dataset out.

The main process lists the sources, streams archive members into a memory-backed spool folder and
hands chunks of replays to worker processes. Each worker hashes, parses and writes its chunk as one
batch folder, which it publishes with an atomic rename, and returns only the manifest rows. So
memory is bounded by the chunk size whatever the corpus size, the main process never touches
frames, and a run killed at any moment leaves only unpublished work behind, which the next run
deletes and redoes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from dreamland.fsutil import fsync
from dreamland.replay.dataset import Dataset, DatasetError, manifest_table
from dreamland.replay.parse import ReplayError, eligibility, items_schema, parse_game, players_schema
from dreamland.replay.sources import (
    Source,
    SourceError,
    discover,
    expected_count,
    iter_archive,
    maybe_gunzip,
    shard_of,
)

CHUNK_GAMES = 16  # replays per batch: bounds worker memory and the work a kill can lose


@dataclass(frozen=True)
class Filters:
    """What to keep. By default every parseable game is kept and marked eligible or not."""

    only_eligible: bool = False
    min_frames: int = 0
    stages: frozenset[int] = frozenset()  # external stage ids; empty = all
    characters: frozenset[int] = frozenset()  # external character ids; empty = all

    def rejects(self, info: dict) -> str | None:
        if self.only_eligible and not info["eligible"]:
            return "not eligible: " + (info["ineligible_reason"] or "")
        if info["frames"] < self.min_frames:
            return f"fewer than {self.min_frames} frames"
        if self.stages and info["stage"] not in self.stages:
            return "stage not selected"
        if self.characters and not set(info["characters_external"]) & self.characters:
            return "no selected character"
        return None


@dataclass(frozen=True)
class Work:
    """One replay to ingest."""

    key: str  # stable source key: sharding and quick skip on reruns
    path: str  # a file peppi can read
    source: str
    member: str | None
    size: int
    spooled: bool  # a spool copy of an archive member, deleted once read


@dataclass
class Summary:
    sources: int = 0
    expected: int | None = None  # replays this run will look at, when knowable upfront
    seen: int = 0
    skipped_known: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures_by_reason: Counter = field(default_factory=Counter)
    frames: int = 0
    eligible: int = 0
    seconds: float = 0.0
    archive_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "sources": self.sources,
            "expected": self.expected,
            "replays_seen": self.seen,
            "already_in_dataset": self.skipped_known,
            "games_ok": self.statuses["ok"],
            "games_failed": self.statuses["failed"],
            "games_filtered": self.statuses["filtered"],
            "duplicates": self.statuses["duplicate"],
            "failures_by_reason": dict(self.failures_by_reason),
            "frames": self.frames,
            "eligible": self.eligible,
            "seconds": round(self.seconds, 2),
            "archive_errors": self.archive_errors,
        }


# --- the worker side ----------------------------------------------------------------------------

_CTX: dict = {}


def _init_worker(ctx: dict) -> None:
    _CTX.clear()
    _CTX.update(ctx)


def _sha256_file(path: str) -> str:
    with open(path, "rb") as fh:  # file_digest reads into one reused buffer, not a new one per chunk
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _claim(claims: Path, game_id: str) -> bool:
    """First worker of this run to see these bytes wins; O_EXCL makes that atomic."""
    try:
        os.close(os.open(claims / game_id, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def _header_facts(path: str) -> dict:
    """Version, stage and characters of a replay whose frames peppi cannot read, when its header
    can still be read; so failures are still grouped by version in the stats."""
    try:
        from peppi_py._peppi import read_slippi

        from dreamland.replay.parse import _quiet_stderr

        with _quiet_stderr():
            start = read_slippi(path, True).start
        v = start["slippi"]["version"]
        return {
            "slippi_version": ".".join(map(str, v[:3])),
            "stage": int(start["stage"]),
            "characters_external": [int(p["character"]) for p in start["players"]],
        }
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # noqa: BLE001 - best effort only
        return {}


def _ingest_one(work: Work, ctx: dict, batch: str, now: str):
    """Returns (manifest row, players table or None, items table or None)."""
    row = {
        "source": work.source,
        "member": work.member,
        "source_key": work.key,
        "source_size": work.size,
        "batch": batch,
        "ingested_at": now,
    }
    try:
        game_id = _sha256_file(work.path)
    except OSError as exc:
        return {**row, "game_id": None, "status": "failed", "reason": "unreadable",
                "detail": str(exc)[:300]}, None, None
    row["game_id"] = game_id
    if game_id in ctx["known"]:
        return {**row, "status": "duplicate", "reason": "already in dataset",
                "duplicate_of": game_id}, None, None
    if not _claim(ctx["claims"], game_id):
        return {**row, "status": "duplicate", "reason": "same bytes seen in this run",
                "duplicate_of": game_id}, None, None
    try:
        parsed = parse_game(work.path, game_id)
    except ReplayError as exc:
        return {**row, **_header_facts(work.path), "status": "failed", "reason": exc.reason,
                "detail": exc.detail}, None, None
    info = parsed.info
    why = eligibility(info)
    info["eligible"] = not why
    info["ineligible_reason"] = "; ".join(why) or None
    row.update(info)
    rejected = ctx["filters"].rejects(info)
    if rejected:
        row.update(status="filtered", reason=rejected)
        return row, None, None
    row["status"] = "ok"
    return row, parsed.players, parsed.items


def _write_parquet(table: pa.Table, path: Path) -> None:
    # Measured on the corpus (benchmarks/bench_ingest.py): plain encoding + zstd level 1 is as
    # small as level 3 or byte-stream-split (each column is one character's time series, which
    # zstd compresses well as is) and the fastest to write. Statistics only where readers filter.
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=1,
        use_dictionary=["game_id"],
        row_group_size=1 << 22,
        write_statistics=["game_id", "frame", "port"],
    )


def process_chunk(chunk: list[Work], batch: str, ctx: dict | None = None) -> list[dict]:
    """Ingest a chunk of replays as one batch folder and publish it atomically."""
    ctx = ctx or _CTX
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rows, players, items = [], [], []
    for work in chunk:
        try:
            row, p, i = _ingest_one(work, ctx, batch, now)
        finally:
            if work.spooled:
                try:
                    os.unlink(work.path)
                except OSError:
                    pass
        rows.append(row)
        if p is not None:
            players.append(p)
            items.append(i)
    return _publish(rows, players, items, batch, ctx)


def _publish(rows: list[dict], players: list, items: list, batch: str, ctx: dict) -> list[dict]:
    """Write a batch's three tables into staging, then make them visible at once."""
    staging = ctx["staging"] / batch
    staging.mkdir(parents=True, exist_ok=True)
    files = {
        "games.parquet": manifest_table(rows),
        "players.parquet": pa.concat_tables(players) if players else players_schema().empty_table(),
        "items.parquet": pa.concat_tables(items) if items else items_schema().empty_table(),
    }
    for name, table in files.items():
        _write_parquet(table, staging / name)
        fsync(staging / name)
    final = ctx["parts"] / batch
    os.rename(staging, final)  # the commit point: all three files appear at once
    fsync(ctx["parts"])
    return [
        {k: r.get(k) for k in ("status", "reason", "frames", "eligible", "game_id")} for r in rows
    ]


# --- the main side -------------------------------------------------------------------------------


def _clean_stale_runs(tmp_root: Path) -> None:
    """Delete the unpublished work of ingests that are no longer running (killed, crashed)."""
    if not tmp_root.is_dir():
        return
    for run in tmp_root.iterdir():
        lock = run / "lock"
        if not run.is_dir():
            continue
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # still running: another ingest into the same dataset
        shutil.rmtree(run, ignore_errors=True)
        os.close(fd)


@contextlib.contextmanager
def dataset_lock(root: Path, shard: tuple[int, int] = (0, 1),
                 notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the dataset for one ingest. Two runs over the same replays would both find them new and
    write their manifest rows twice, so a run waits while another holds what it needs: the whole
    dataset for an unsharded run; for `--shard i/n`, that shard (shards of one count run side by
    side; an unsharded run waits for them all). `notify` is told once when the run has to wait."""
    index, count = shard
    work = root / "_tmp"
    work.mkdir(parents=True, exist_ok=True)
    fds: list[int] = []
    try:
        _lock(fds, work / "ingest.lock", fcntl.LOCK_EX if count == 1 else fcntl.LOCK_SH, notify,
              f"waiting for another dreamland ingest into {root} to finish")
        if count > 1:
            _lock(fds, work / f"ingest-{index}-of-{count}.lock", fcntl.LOCK_EX, notify,
                  f"waiting for another dreamland ingest of shard {index}/{count} into {root} to finish")
        yield
    finally:
        for fd in reversed(fds):
            os.close(fd)  # closing releases the lock


def _lock(fds: list[int], path: Path, mode: int, notify: Callable[[str], None] | None, waiting: str) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fds.append(fd)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        if notify:
            notify(waiting)
        fcntl.flock(fd, mode)


def _spool_dir() -> str:
    shm = "/dev/shm"
    base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    return tempfile.mkdtemp(prefix="dreamland-spool-", dir=base)


def _iter_work(
    sources: list[Source],
    shard: tuple[int, int],
    known_keys: set[tuple[str, int]],
    summary: Summary,
    spool: str,
    progress: Callable[[int, dict], None] | None = None,
) -> Iterator[Work]:
    index, count = shard
    for src in sources:
        if not src.is_archive:
            if shard_of(src.key, count) != index:
                continue
            if (src.key, src.size) in known_keys:
                summary.skipped_known += 1
                if progress:
                    progress(1, summary.as_dict())
                continue
            if src.path.lower().endswith(".gz"):
                try:
                    data = maybe_gunzip(src.path, Path(src.path).read_bytes())
                except (OSError, EOFError) as exc:
                    summary.archive_errors.append(f"{src.path}: {exc}")
                    continue
                yield _spool(spool, src.key, src.path, None, len(data), data)
            else:
                yield Work(src.key, src.path, src.path, None, src.size, False)
            continue

        def wanted(member: str, size: int, src=src) -> bool:
            key = f"{src.key}::{member}"
            return shard_of(key, count) == index and (key, size) not in known_keys

        try:
            for member, size, data in iter_archive(src.path, wanted):
                key = f"{src.key}::{member}"
                if data is None:
                    if shard_of(key, count) == index:
                        summary.skipped_known += 1
                        if progress:
                            progress(1, summary.as_dict())
                    continue
                try:
                    data = maybe_gunzip(member, data)
                except (OSError, EOFError) as exc:
                    summary.archive_errors.append(f"{src.path}::{member}: {exc}")
                    continue
                yield _spool(spool, key, src.path, member, size, data)
        except SourceError as exc:
            summary.archive_errors.append(str(exc))


def _spool(spool: str, key: str, source: str, member: str | None, size: int, data: bytes) -> Work:
    fd, path = tempfile.mkstemp(suffix=".slp", dir=spool)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return Work(key, path, source, member, size, True)


def _chunks(items: Iterator[Work], size: int) -> Iterator[list[Work]]:
    chunk: list[Work] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def ingest(
    sources: list[str],
    out: str | Path,
    *,
    workers: int | None = None,
    shard: tuple[int, int] = (0, 1),
    filters: Filters = Filters(),
    chunk_games: int = CHUNK_GAMES,
    progress: Callable[[int, dict], None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> Summary:
    """Ingest replays from `sources` into the dataset at `out`; returns what happened.

    Raises SourceError for missing or empty sources and DatasetError for an unusable dataset
    folder or a failed write (a full disk): the batches published before it are kept, nothing
    partial is. Every problem with an individual replay becomes a manifest row instead. Waits
    while another ingest holds the dataset (`dataset_lock`), telling `notify` once.
    """
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise SourceError(f"--shard {index}/{count}: expected i/n with 0 <= i < n")
    found = discover(sources)
    try:
        dataset = Dataset.create_or_open(out)
        with dataset_lock(dataset.path, shard, notify):
            return _ingest_locked(found, dataset, shard, filters, workers, chunk_games, progress)
    except OSError as exc:
        where = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        raise DatasetError(
            f"{out}: cannot write ({where}); the games ingested before this are kept and nothing "
            "partial is: free some space and run the same command again"
        ) from None


def _ingest_locked(found: list[Source], dataset: Dataset, shard: tuple[int, int], filters: Filters,
                   workers: int | None, chunk_games: int,
                   progress: Callable[[int, dict], None] | None) -> Summary:
    t0 = time.perf_counter()
    index, count = shard
    summary = Summary(sources=len(found), expected=expected_count(found, (index, count)))

    tmp_root = dataset.path / "_tmp"
    tmp_root.mkdir(exist_ok=True)
    _clean_stale_runs(tmp_root)
    run_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    run_dir = tmp_root / run_id
    spool = _spool_dir()
    lock_fd = None
    try:
        (run_dir / "claims").mkdir(parents=True)
        (run_dir / "staging").mkdir()
        lock_fd = os.open(run_dir / "lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        _run(found, dataset, shard, filters, workers, chunk_games, progress, summary, run_dir, run_id, spool)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)  # the unpublished work of this run, if any
        if lock_fd is not None:
            os.close(lock_fd)
    summary.seconds = time.perf_counter() - t0
    return summary


def _run(found: list[Source], dataset: Dataset, shard: tuple[int, int], filters: Filters,
         workers: int | None, chunk_games: int, progress: Callable[[int, dict], None] | None,
         summary: Summary, run_dir: Path, run_id: str, spool: str) -> None:
    manifest = dataset.manifest()
    known = set(manifest["game_id"].drop_null().to_pylist())
    known_keys = set(zip(manifest["source_key"].to_pylist(), manifest["source_size"].to_pylist()))
    ctx = {
        "known": frozenset(known),
        "claims": run_dir / "claims",
        "staging": run_dir / "staging",
        "parts": dataset.path / "parts",
        "filters": filters,
    }
    workers = max(1, workers or os.cpu_count() or 1)

    def record(rows: list[dict]) -> None:
        for r in rows:
            summary.seen += 1
            summary.statuses[r["status"]] += 1
            if r["status"] == "failed":
                summary.failures_by_reason[r["reason"]] += 1
            if r["status"] == "ok":
                summary.frames += r["frames"] or 0
                summary.eligible += bool(r["eligible"])
        if progress:
            progress(len(rows), summary.as_dict())

    if progress:
        progress(0, summary.as_dict())
    work = _iter_work(found, shard, known_keys, summary, spool, progress)
    batches = (
        (chunk, f"{run_id}-{i:06d}") for i, chunk in enumerate(_chunks(work, chunk_games))
    )
    if workers == 1:
        for chunk, batch in batches:
            record(process_chunk(chunk, batch, ctx))
    else:
        _run_pool(batches, workers, ctx, record)


def _run_pool(batches, workers: int, ctx: dict, record) -> None:
    """Keep every worker busy with at most two chunks in flight each, so the spool stays small."""
    pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(ctx,))
    pending: dict = {}
    try:
        for chunk, batch in batches:
            while len(pending) >= 2 * workers:
                pool = _drain(pool, pending, workers, ctx, record)
            pending[pool.submit(process_chunk, chunk, batch)] = (chunk, batch)
        while pending:
            pool = _drain(pool, pending, workers, ctx, record)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _drain(pool, pending: dict, workers: int, ctx: dict, record):
    done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
    for fut in done:
        chunk, batch = pending.pop(fut)
        try:
            record(fut.result())
        except BrokenProcessPool:
            # A replay crashed the parser hard enough to kill its process (not just a panic).
            # Redo the chunk one replay at a time in this process's own isolated children.
            pool.shutdown(wait=False, cancel_futures=False)
            pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(ctx,))
            record(_isolate(chunk, batch, ctx))
    return pool


def _isolate(chunk: list[Work], batch: str, ctx: dict) -> list[dict]:
    rows = []
    for i, work in enumerate(chunk):
        with ProcessPoolExecutor(1, initializer=_init_worker, initargs=(ctx,)) as one:
            try:
                rows += one.submit(process_chunk, [work], f"{batch}-{i:02d}").result()
            except BrokenProcessPool:
                row = {
                    "game_id": _sha256_file(work.path) if os.path.exists(work.path) else None,
                    "status": "failed",
                    "reason": "parser crashed",
                    "detail": "the parser killed its process",
                    "source": work.source,
                    "member": work.member,
                    "source_key": work.key,
                    "source_size": work.size,
                    "batch": f"{batch}-{i:02d}",
                }
                rows += _publish([row], [], [], row["batch"], ctx)
    return rows

