"""The packed training store: memory-mapped arrays of every two-player game, plus a game index.

Layout (see docs/store.md)::

    STORE/
      store.json                 format, versions, schema fingerprint, array layout, counts
      games.parquet              one row per game: where its frames and items start, facts, split key
      player_<group>.npy         (frames, 2, F) leaders' state, by dtype group (data.layout)
      player_exists.npy          (frames, 2) uint8
      follower_<group>.npy       (follower frames, F) Nana's state, only for the players who are
      follower_exists.npy        (follower frames,) uint8   Ice Climbers (games.parquet says where)
      controller_<group>.npy     (frames, 2, F) the players' inputs
      frame_id.npy               (frames,) int32: the game's own frame id
      item_start.npy             (frames + 1,) int64: first item record of each frame
      item_<group>.npy           (records, F) item state; item_slot.npy (records,) uint8

Arrays are plain .npy files opened with mmap, so opening a store of any size reads only its
headers and index, and the operating system pages in just the windows that are sampled.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dreamland import __version__
from dreamland.data import layout
from dreamland.data.items import NO_SLOT, assign_slots
from dreamland.replay.dataset import Dataset
from dreamland.schema import fingerprint

FORMAT = "dreamland-store"
FORMAT_VERSION = 1
FIRST_ACTIONABLE_FRAME = -39  # players can act from here; earlier frames are the entry animation


class StoreError(Exception):
    """A store that cannot be used (missing, another schema, damaged)."""


@dataclass
class PackSummary:
    games: int = 0
    frames: int = 0
    follower_frames: int = 0
    item_records: int = 0
    items_without_slot: int = 0
    skipped: dict | None = None
    seconds: float = 0.0
    bytes: int = 0

    def as_dict(self) -> dict:
        return {**self.__dict__, "bytes_per_frame": self.bytes / max(self.frames, 1)}


def slippi_version(text: str | None) -> tuple[int, ...] | None:
    """"3.14.0" -> (3, 14, 0); None for a missing or malformed version."""
    try:
        parts = tuple(int(p) for p in str(text).strip().split("."))
    except ValueError:
        return None
    return parts if text is not None and parts else None


def split_key(game_id: str) -> float:
    """A stable number in [0, 1) per game: the same on every machine, in every run."""
    return int(hashlib.sha256(game_id.encode()).hexdigest()[:13], 16) / float(1 << 52)


def _packable(row: dict) -> str | None:
    if row["status"] != "ok":
        return "not ok"
    if len(row["ports"] or []) != 2:
        return "not two players"
    if row["first_frame"] != -123:
        return "unusual frame ids"
    return None


def _runs(column: pa.ChunkedArray) -> list[tuple[str, int, int]]:
    """(value, start, end) of each run of equal game ids in a batch file."""
    values = column.cast(pa.string()).to_numpy(zero_copy_only=False)
    if len(values) == 0:
        return []
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    return [(values[a], int(a), int(b)) for a, b in zip(starts, ends)]


def _fill(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Arrow column -> numpy with nulls as 0 (fields a replay version did not record)."""
    if column.null_count:
        column = pc.fill_null(column, 0)
    return column.to_numpy()


def array_specs(frames: int, follower_frames: int, records: int) -> dict[str, tuple[tuple, str]]:
    """Every array of a store: name -> (shape, dtype). What pack writes and what Store checks."""
    specs: dict[str, tuple[tuple, str]] = {}
    for g in layout.PLAYER_GROUPS:
        specs[f"player_{g.name}"] = ((frames, 2, len(g.fields)), g.dtype)
        specs[f"follower_{g.name}"] = ((follower_frames, len(g.fields)), g.dtype)
    specs["player_exists"] = ((frames, 2), "uint8")
    specs["follower_exists"] = ((follower_frames,), "uint8")
    for g in layout.CONTROLLER_GROUPS:
        specs[f"controller_{g.name}"] = ((frames, 2, len(g.fields)), g.dtype)
    specs["frame_id"] = ((frames,), "int32")
    specs["item_start"] = ((frames + 1,), "int64")
    for g in layout.ITEM_GROUPS:
        specs[f"item_{g.name}"] = ((records, len(g.fields)), g.dtype)
    specs["item_slot"] = ((records,), "uint8")
    return specs


_NPY_HEADER_BYTES = 128  # numpy's header for these shapes; a bound for the space check
_INDEX_BYTES_PER_GAME = 4096  # games.parquet and store.json, generously


def _bytes_needed(specs: dict[str, tuple[tuple, str]], games: int) -> int:
    arrays = sum(int(np.prod(shape)) * np.dtype(dtype).itemsize + _NPY_HEADER_BYTES
                 for shape, dtype in specs.values())
    return arrays + games * _INDEX_BYTES_PER_GAME


class _Writer:
    """Preallocated .npy memmaps, filled game by game; sizes are known from the manifest.

    Each file's blocks are reserved before anything is written into its mapping: a write into a
    sparse mapping on a full disk is a SIGBUS that kills the process without a word, whereas a
    failed reservation is an OSError that pack reports."""

    def __init__(self, root: Path, specs: dict[str, tuple[tuple, str]]):
        self.root = root
        self.arrays: dict[str, np.ndarray] = {}
        for name, (shape, dtype) in specs.items():
            path = root / f"{name}.npy"
            self.arrays[name] = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
            _reserve(path)

    def flush(self) -> None:
        for arr in self.arrays.values():
            arr.flush()


def _reserve(path: Path) -> None:
    """Allocate every block of a file now (ENOSPC here, not a SIGBUS later)."""
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        if size:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as exc:
                # A filesystem that cannot reserve: the free-space check before packing stands in.
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
    finally:
        os.close(fd)


def _character_rows(players: pa.Table, port: int, follower: bool) -> pa.Table:
    mask = pc.and_(pc.equal(players["port"], port), pc.equal(players["follower"], follower))
    return players.filter(mask)


def _write_character(w: _Writer, prefix: str, table: pa.Table, rows: slice, ports: tuple[int, int],
                     slot: int | None) -> None:
    """One character's frames into the player arrays (at `slot`) or the follower arrays."""
    where = (rows, slot) if slot is not None else (rows,)
    w.arrays[f"{prefix}_exists"][where] = table["action"].is_valid().to_numpy(zero_copy_only=False)
    for g in layout.PLAYER_GROUPS:
        dest = w.arrays[f"{prefix}_{g.name}"]
        for j, f in enumerate(g.fields):
            dest[where + (j,)] = layout.store_value(f, _fill(table[f.name]), ports)


def pack(
    dataset_path: str | Path,
    out: str | Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> PackSummary:
    """Pack every two-player game of a dataset into a store at `out` (which must not exist)."""
    t0 = time.perf_counter()
    dataset = Dataset(dataset_path)
    root = Path(out)
    if root.exists() and any(root.iterdir()):
        raise StoreError(f"{out}: already exists and is not empty; choose a new folder")
    manifest = dataset.manifest().to_pylist()
    games = [r for r in manifest if _packable(r) is None]
    skipped: dict[str, int] = {}
    for r in manifest:
        why = _packable(r)
        if why:
            skipped[why] = skipped.get(why, 0) + 1
    if not games:
        raise StoreError(f"{dataset_path}: no two-player games to pack")
    by_batch: dict[str, list[dict]] = {}
    for r in games:
        by_batch.setdefault(r["batch"], []).append(r)

    tmp = root.with_name(root.name + ".tmp")
    specs = array_specs(
        sum(r["frames"] for r in games),
        sum(r["frames"] * sum(r["has_follower"]) for r in games),
        sum(r["item_records"] for r in games),
    )
    shutil.rmtree(tmp, ignore_errors=True)  # what a killed pack left behind
    _check_space(root, _bytes_needed(specs, len(games)))
    summary = PackSummary(skipped=skipped)
    try:
        tmp.mkdir(parents=True)
        _write_arrays(tmp, dataset, by_batch, specs, summary, progress)
        summary.seconds = time.perf_counter() - t0
        _write_meta(tmp, dataset_path, summary)
        if root.exists():
            root.rmdir()
        tmp.rename(root)  # a store is complete or absent, never half-written
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise StoreError(
                f"{out}: cannot write the store ({exc.strerror or exc}); nothing was kept: free some "
                "space (or choose another disk) and pack again"
            ) from None
        raise
    return summary


def _check_space(root: Path, needed: int) -> None:
    where = root.parent
    while not where.exists() and where != where.parent:
        where = where.parent
    free = shutil.disk_usage(where).free
    if free < needed:
        raise StoreError(
            f"{root}: the store needs about {needed / 1e6:.0f} MB and {where} has {free / 1e6:.0f} MB "
            "free; free some space or pack onto another disk"
        )


def _damaged_part(path: Path, why: str) -> str:
    return (f"{path}: damaged ({why}); delete its batch folder {path.parent.name} and run dreamland "
            "ingest again with the same sources (it adds those games back), then pack")


def _read_part(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(_damaged_part(path, (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200])) from None


def _write_items(w: "_Writer", gi: pa.Table, first: int, frames: slice, rat: int,
                 ports: tuple[int, int], summary: PackSummary) -> int:
    """One game's item records from record `rat` on, each frame's first record in `item_start`;
    returns how many were written."""
    n, m = frames.stop - frames.start, gi.num_rows
    local = gi["frame"].to_numpy() - first if m else np.zeros(0, np.int64)
    counts = np.bincount(local, minlength=n) if m else np.zeros(n, np.int64)
    w.arrays["item_start"][frames] = rat + np.r_[0, np.cumsum(counts)[:-1]]
    if m:
        slots = assign_slots(local, gi["item_id"].to_numpy())
        w.arrays["item_slot"][rat : rat + m] = slots
        summary.items_without_slot += int((slots == NO_SLOT).sum())
        for g in layout.ITEM_GROUPS:
            dest = w.arrays[f"item_{g.name}"]
            for j, f in enumerate(g.fields):
                dest[rat : rat + m, j] = layout.store_value(f, _fill(gi[f.name]), ports)
    return m


def _index_row(r: dict, at: int, first: int, follower_start: list[int], rat: int, m: int,
               missing: list[str]) -> dict:
    """A game's row of games.parquet, from its manifest row and where its frames were written."""
    ports = tuple(r["ports"])
    return {
        "game_id": r["game_id"],
        "start": at,
        "length": r["frames"],
        "first_frame": first,
        "actionable_offset": FIRST_ACTIONABLE_FRAME - first,
        "follower_start": follower_start,
        "item_start": rat,
        "item_records": m,
        "stage": r["stage"],
        "characters": [int(c) if c is not None else 0 for c in r["characters"]],
        "characters_external": r["characters_external"],
        "ports": list(ports),
        "eligible": bool(r["eligible"]),
        "ineligible_reason": r["ineligible_reason"],
        "slippi_version": r["slippi_version"],
        "end_method": r["end_method"],
        "winner": (ports.index(r["winner"]) if r["winner"] in ports else None),
        "missing_fields": missing,
        "split_key": split_key(r["game_id"]),
        "source": r["source"] + (f"::{r['member']}" if r["member"] else ""),
    }


def _write_arrays(tmp: Path, dataset: Dataset, by_batch: dict[str, list[dict]],
                  specs: dict[str, tuple[tuple, str]], summary: PackSummary,
                  progress: Callable[[int], None] | None) -> None:
    """Every game's frames into the arrays, then the game index; fills in `summary`."""
    w = _Writer(tmp, specs)
    index_rows = []
    at = fat = rat = 0
    for batch, rows in sorted(by_batch.items()):
        players_path = dataset.path / "parts" / batch / "players.parquet"
        players = _read_part(players_path)
        items = _read_part(dataset.path / "parts" / batch / "items.parquet")
        p_runs = {gid: (a, b) for gid, a, b in _runs(players["game_id"])}
        i_runs = {gid: (a, b) for gid, a, b in _runs(items["game_id"])}
        for r in rows:
            gid, n, ports = r["game_id"], r["frames"], tuple(r["ports"])
            if gid not in p_runs:
                raise StoreError(_damaged_part(players_path, f"no rows of game {gid}, which its manifest lists"))
            a, b = p_runs[gid]
            gp = players.slice(a, b - a)
            leaders = [_character_rows(gp, p, False) for p in ports]
            w.arrays["frame_id"][at : at + n] = leaders[0]["frame"].to_numpy()
            for slot, table in enumerate(leaders):
                _write_character(w, "player", table, slice(at, at + n), ports, slot)
            for g in layout.CONTROLLER_GROUPS:
                dest = w.arrays[f"controller_{g.name}"]
                for j, f in enumerate(g.fields):
                    for slot, t in enumerate(leaders):
                        dest[at : at + n, slot, j] = layout.store_controller(f, _fill(t[f.name]))
            follower_start = [-1, -1]
            for slot, (port, has) in enumerate(zip(ports, r["has_follower"])):
                if has:
                    follower_start[slot] = fat
                    nana = _character_rows(gp, port, True)
                    _write_character(w, "follower", nana, slice(fat, fat + n), ports, None)
                    fat += n
            ia, ib = i_runs.get(gid, (0, 0))
            first = int(leaders[0]["frame"][0].as_py())
            m = _write_items(w, items.slice(ia, ib - ia), first, slice(at, at + n), rat, ports, summary)
            missing = [
                f.name for f in layout.PLAYER_STATE + layout.CONTROLLER if leaders[0][f.name].null_count == n
            ]
            index_rows.append(_index_row(r, at, first, follower_start, rat, m, missing))
            at += n
            rat += m
            summary.games += 1
            if progress:
                progress(1)
    w.arrays["item_start"][at] = rat
    w.flush()
    pq.write_table(pa.Table.from_pylist(index_rows), tmp / "games.parquet")
    summary.frames, summary.follower_frames, summary.item_records = at, fat, rat
    summary.bytes = sum(p.stat().st_size for p in tmp.iterdir())


def _write_meta(tmp: Path, dataset_path: str | Path, summary: PackSummary) -> None:
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_fingerprint": fingerprint(),
        "layout": layout.describe(),
        "created_by": f"dreamland {__version__}",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "dataset": str(Path(dataset_path).resolve()),
        "summary": summary.as_dict(),
    }
    (tmp / "store.json").write_text(json.dumps(meta, indent=2))


def _open_array(path: Path, shape: tuple, dtype: str) -> np.ndarray:
    """One array of a store, memory-mapped, or a StoreError if it is missing or not what the store
    says it is (so that a damaged store fails when it is opened, not in the middle of training)."""
    if not path.is_file():
        raise StoreError(f"{path}: missing, the store is damaged; pack the dataset again")
    try:
        # A plain ndarray view of the map: same pages, without np.memmap's per-index overhead.
        array = np.load(path, mmap_mode="r").view(np.ndarray)
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: damaged ({exc}); pack the dataset again") from None
    if array.shape != tuple(shape) or array.dtype != np.dtype(dtype):
        raise StoreError(f"{path}: damaged ({array.dtype}{list(array.shape)}, the store lists "
                         f"{dtype}{list(shape)}); pack the dataset again")
    return array


SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitSpec:
    """How games are divided: by a stable hash of the game id, before any augmentation, so both
    views of a game (mirrored, swapped) always land in the same split. Games with a held-out
    character or stage go to the `heldout` split only."""

    fractions: tuple[float, float, float] = (0.9, 0.05, 0.05)
    heldout_characters: frozenset[int] = frozenset()  # internal character ids
    heldout_stages: frozenset[int] = frozenset()  # external stage ids

    @classmethod
    def from_names(cls, fractions, characters=(), stages=()) -> "SplitSpec":
        """Held-out characters and stages as users write them (names, short names or ids)."""
        from dreamland.schema.characters import external_character_id, external_to_internal
        from dreamland.schema.stages import external_stage_id

        try:
            return cls(
                fractions=tuple(fractions),
                heldout_characters=frozenset(
                    external_to_internal(external_character_id(c)) for c in characters
                ),
                heldout_stages=frozenset(external_stage_id(s) for s in stages),
            )
        except KeyError as exc:
            raise StoreError(str(exc.args[0])) from None

    def __post_init__(self):
        if len(self.fractions) != 3 or any(f < 0 for f in self.fractions):
            raise StoreError(f"split fractions must be three non-negative numbers: {self.fractions}")
        if abs(sum(self.fractions) - 1.0) > 1e-6:
            raise StoreError(f"split fractions must add up to 1: {self.fractions}")


class Store:
    """Read access to a packed store; arrays are memory-mapped, never read whole."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta_path = self.path / "store.json"
        if not self.path.is_dir():
            raise StoreError(f"{path}: no such store folder")
        if not meta_path.is_file():
            raise StoreError(f"{path}: not a dreamland store (no store.json)")
        try:
            self.meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(f"{meta_path}: unreadable ({exc})") from None
        if self.meta.get("format") != FORMAT:
            raise StoreError(f"{path}: not a dreamland store")
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise StoreError(
                f"{path}: store format {self.meta.get('format_version')}, this dreamland reads "
                f"{FORMAT_VERSION}; pack the dataset again"
            )
        if self.meta.get("schema_fingerprint") != fingerprint() or self.meta.get("layout") != layout.describe():
            raise StoreError(
                f"{path}: built with schema {self.meta.get('schema_fingerprint')}, this dreamland "
                f"uses schema {fingerprint()}; pack the dataset again"
            )
        try:
            self.index = pq.read_table(self.path / "games.parquet")
            summary = self.meta["summary"]
            self.frames = int(summary["frames"])
            specs = array_specs(self.frames, int(summary["follower_frames"]), int(summary["item_records"]))
        except (OSError, ValueError, TypeError, KeyError, pa.ArrowException) as exc:
            raise StoreError(f"{path}: damaged store ({exc}); pack the dataset again") from None
        self._arrays = {name: _open_array(self.path / f"{name}.npy", shape, dtype)
                        for name, (shape, dtype) in specs.items()}
        self.start = self.index["start"].to_numpy()
        self.length = self.index["length"].to_numpy()

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def __len__(self) -> int:
        return self.index.num_rows

    def games_in(self, split: str, spec: SplitSpec = SplitSpec(), eligible_only: bool = True) -> np.ndarray:
        """Indices of the games of one split: train, val, test, or heldout."""
        if split not in SPLITS + ("heldout", "all"):
            raise StoreError(f"unknown split {split!r}; expected train, val, test, heldout or all")
        key = self.index["split_key"].to_numpy()
        chars = self.index["characters"].to_pylist()
        stages = self.index["stage"].to_numpy()
        held = np.array(
            [bool(set(c) & spec.heldout_characters) for c in chars], dtype=bool
        ) | np.isin(stages, list(spec.heldout_stages))
        keep = np.ones(len(key), bool)
        if eligible_only:
            keep &= self.index["eligible"].to_numpy(zero_copy_only=False)
        if split == "heldout":
            keep &= held
        elif split != "all":
            edges = np.cumsum((0.0,) + tuple(spec.fractions))
            i = SPLITS.index(split)
            keep &= ~held & (key >= edges[i]) & (key < edges[i + 1])
        return np.flatnonzero(keep)

    def recorded_since(self, games: np.ndarray, version: str) -> np.ndarray:
        """The games of `games` recorded by Slippi `version` ("3.0.0") or later; a game whose
        version is unknown counts as older."""
        least = slippi_version(version)
        if least is None:
            raise StoreError(f"not a Slippi version: {version!r} (expected numbers such as 3.0.0)")
        versions = self.index["slippi_version"].to_pylist()
        return np.array([g for g in games if (slippi_version(versions[g]) or ()) >= least], dtype=games.dtype)

    def present(self) -> np.ndarray:
        """(games, len(layout.PRESENT_FIELDS)) uint8: 1 where the game recorded the field (its
        leader's column was not entirely null when packed; older Slippi versions lack some)."""
        if not hasattr(self, "_present"):
            self._present = layout.present_flags(self.index["missing_fields"].to_pylist())
        return self._present
