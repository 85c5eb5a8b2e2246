"""Random windows of consecutive frames from a store, as batches of arrays, fast.

A window is T = K + 1 consecutive frames of one game: K frames of context and the frame to predict
(the model is trained on every position of the window at once). An epoch tiles every game into
non-overlapping windows at a random offset and visits them in a random order, so each frame is
seen about once per epoch; with N ranks, rank r takes every N-th window of that order, so the ranks
see different windows and none twice. Everything follows from (seed, epoch): a resumed run asks for
the same epoch and skips the batches it has already consumed.

A batch is a dict of numpy arrays in the store's dtypes (game units), shaped (B, T, ...). Gathering
is one `np.take` per array into the arrays of an earlier batch that nobody holds any more
(`_Buffers`); normalisation happens later, on the training device (`data.encoding`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from dreamland.data import layout
from dreamland.data.items import MAX_ITEM_SLOTS
from dreamland.data.store import Store, StoreError

Batch = dict[str, np.ndarray]


@dataclass(frozen=True)
class Augment:
    """Each an independent coin flip per window."""

    swap_players: bool = False
    mirror: bool = False


def _mirror_columns(groups) -> dict[str, np.ndarray]:
    return {g.name: np.array([f.mirror for f in g.fields], bool) for g in groups}


def _port_columns(groups) -> dict[str, np.ndarray]:
    return {g.name: np.array([f.port_ref for f in g.fields], bool) for g in groups}


def _binary_columns(groups) -> dict[str, np.ndarray]:
    from dreamland.schema import Kind

    return {g.name: np.array([f.kind is Kind.BINARY for f in g.fields], bool) for g in groups}


# Arrays gathered frame by frame with one np.take each; followers and items are filled apart.
_FRAME_ARRAYS = tuple([f"player_{g.name}" for g in layout.PLAYER_GROUPS] + ["player_exists"]
                      + [f"controller_{g.name}" for g in layout.CONTROLLER_GROUPS] + ["frame_id"])
_FOLLOWER_ARRAYS = tuple([f"follower_{g.name}" for g in layout.PLAYER_GROUPS] + ["follower_exists"])


class _Buffers:
    """The arrays of one batch, filled again for a later batch once nothing outside holds them.

    Fresh arrays cost a page fault and the kernel's zeroing of every page whenever the allocator
    maps new memory for them, up to half the time of a gather at batch 256, and how often it does
    depends on what else the process allocated (benchmarks/bench_windows.py); reused ones only need
    the item cells and follower rows of their last batch cleared. Whether anything outside still
    holds an array (the batch dict, a view, a tensor made by torch.from_numpy) is read from its
    reference count, so a caller that keeps a batch keeps it intact."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays
        self.item_cells = np.zeros(0, np.int64)  # cells filled last time: (window*T + t)*S + slot
        self.follower_rows = np.zeros(0, np.int64)  # windows that had a follower last time
        self._idle = self._refs()

    def _refs(self) -> list[int]:
        return [sys.getrefcount(a) for a in self.arrays.values()]

    def idle(self) -> bool:
        return self._refs() == self._idle


class Gather:
    """Turns window start positions into a batch. It reuses the arrays of a batch that nothing
    holds any more (`_Buffers`); `reuse=False` gives fresh arrays every call."""

    POOL = 4  # reusable batches kept: the one being used, one held by a loop variable, spares

    def __init__(self, store: Store, window: int, item_slots: int = MAX_ITEM_SLOTS, reuse: bool = True):
        if not 1 <= item_slots <= MAX_ITEM_SLOTS:
            raise StoreError(f"item slots must be 1..{MAX_ITEM_SLOTS}, got {item_slots}")
        self.store = store
        self.window = window
        self.item_slots = item_slots
        self.reuse = reuse
        self.pool: list[_Buffers] = []
        self.offsets = np.arange(window)
        self.game_of_frame_start = store.start
        self.follower_start = np.array(store.index["follower_start"].to_pylist(), np.int64).reshape(-1, 2)
        self.stage = store.index["stage"].to_numpy().astype(np.int16)
        self.characters = np.array(store.index["characters"].to_pylist(), np.uint8).reshape(-1, 2)
        self.present = store.present()

    def __call__(self, starts: np.ndarray, games: np.ndarray) -> Batch:
        s = self.store
        idx = starts[:, None] + self.offsets  # (B, T)
        buf = self._buffers(len(starts))
        out = buf.arrays
        for name in _FRAME_ARRAYS:
            np.take(s[name], idx, axis=0, out=out[name], mode="clip")  # clip: unbuffered, idx is valid
        np.take(self.stage, games, out=out["stage"])
        np.take(self.characters, games, axis=0, out=out["characters"])
        np.take(self.present, games, axis=0, out=out["present"])
        out["game"][:] = games
        self._followers(buf, idx, games)
        self._items(buf, idx)
        return dict(out)

    def _buffers(self, b: int) -> _Buffers:
        t = self.window
        if self.reuse:
            for buf in self.pool:
                if buf.arrays["game"].shape[0] == b and buf.idle():
                    return buf
        s, slots = self.store, self.item_slots
        arrays = {name: np.empty((b, t, *s[name].shape[1:]), s[name].dtype) for name in _FRAME_ARRAYS}
        for g in layout.PLAYER_GROUPS:
            arrays[f"follower_{g.name}"] = np.zeros((b, t, 2, len(g.fields)), g.dtype)
        arrays["follower_exists"] = np.zeros((b, t, 2), np.uint8)
        for g in layout.ITEM_GROUPS:
            arrays[f"item_{g.name}"] = np.zeros((b, t, slots, len(g.fields)), g.dtype)
        arrays["item_exists"] = np.zeros((b, t, slots), np.uint8)
        arrays["stage"] = np.empty(b, np.int16)
        arrays["characters"] = np.empty((b, 2), np.uint8)
        arrays["present"] = np.empty((b, self.present.shape[1]), np.uint8)
        arrays["game"] = np.empty(b, np.int32)
        buf = _Buffers(arrays)
        if self.reuse and len(self.pool) < self.POOL:
            self.pool.append(buf)
        return buf

    def _followers(self, buf: _Buffers, idx: np.ndarray, games: np.ndarray) -> None:
        """Nana, for the windows whose player is Ice Climbers; zeros (not existing) otherwise."""
        s, out = self.store, buf.arrays
        for name in _FOLLOWER_ARRAYS:
            out[name][buf.follower_rows] = 0
        buf.follower_rows = np.flatnonzero((self.follower_start[games] >= 0).any(axis=1))
        for slot in (0, 1):
            fstart = self.follower_start[games, slot]
            rows = np.flatnonzero(fstart >= 0)
            if not len(rows):
                continue
            fidx = fstart[rows, None] + (idx[rows] - self.game_of_frame_start[games[rows], None])
            for name in _FOLLOWER_ARRAYS:
                out[name][rows, :, slot] = s[name][fidx]

    def _items(self, buf: _Buffers, idx: np.ndarray) -> None:
        """Scatter the windows' item records into their slots: (B, T, S, F), zeros where empty."""
        s = self.store
        n_slots = self.item_slots
        flat = idx.reshape(-1)
        dense = {g.name: buf.arrays[f"item_{g.name}"].reshape(-1, len(g.fields)) for g in layout.ITEM_GROUPS}
        exists = buf.arrays["item_exists"].reshape(-1)
        for arr in (*dense.values(), exists):
            arr[buf.item_cells] = 0
        first = s["item_start"][flat]
        counts = s["item_start"][flat + 1] - first
        total = int(counts.sum())
        # record r of the batch belongs to frame frame_of[r] and sits at rec[r] in the store
        before = np.cumsum(counts) - counts
        rec = np.arange(total) + np.repeat(first - before, counts)
        frame_of = np.repeat(np.arange(len(flat)), counts)
        slot = s["item_slot"][rec].astype(np.int64)
        keep = slot < n_slots
        if not keep.all():
            rec, frame_of, slot = rec[keep], frame_of[keep], slot[keep]
        cell = frame_of * n_slots + slot
        for g in layout.ITEM_GROUPS:
            dense[g.name][cell] = s[f"item_{g.name}"][rec]
        exists[cell] = 1
        buf.item_cells = cell


_PLAYER_MIRROR = _mirror_columns(layout.PLAYER_GROUPS)
_CONTROLLER_MIRROR = _mirror_columns(layout.CONTROLLER_GROUPS)
_ITEM_MIRROR = _mirror_columns(layout.ITEM_GROUPS)
_PLAYER_BINARY = _binary_columns(layout.PLAYER_GROUPS)
_ITEM_BINARY = _binary_columns(layout.ITEM_GROUPS)
_PLAYER_PORT = _port_columns(layout.PLAYER_GROUPS)
_ITEM_PORT = _port_columns(layout.ITEM_GROUPS)


def _negate(arr: np.ndarray, rows: np.ndarray, cols: np.ndarray, binary: np.ndarray,
            exists: np.ndarray | None = None) -> None:
    """Mirror columns of the selected windows in place: negate reals, toggle binary flags. Where
    `exists` (of the selected windows) is false, the entry stays all-zero."""
    for c in np.flatnonzero(cols):
        view = arr[rows, ..., c]
        flipped = (1 - view) if binary[c] else -view
        arr[rows, ..., c] = flipped if exists is None else np.where(exists, flipped, 0)


def augment(batch: Batch, aug: Augment, rng: np.random.Generator) -> Batch:
    """Swap the players' roles and/or mirror the stage left-right, per window, in place. A follower
    or item slot that does not exist stays all-zero, as the gather leaves it."""
    b = batch["stage"].shape[0]
    if aug.swap_players:
        rows = np.flatnonzero(rng.random(b) < 0.5)
        if len(rows):
            for key, value in batch.items():
                if key.startswith(("player_", "follower_", "controller_")):
                    value[rows] = value[rows][:, :, ::-1]
            batch["characters"][rows] = batch["characters"][rows][:, ::-1]
            for prefix, ports in (("player_", _PLAYER_PORT), ("follower_", _PLAYER_PORT),
                                  ("item_", _ITEM_PORT)):
                exists = batch[prefix + "exists"][rows] > 0
                for name, cols in ports.items():
                    for c in np.flatnonzero(cols):
                        v = batch[prefix + name][rows, ..., c]
                        batch[prefix + name][rows, ..., c] = np.where(exists & (v < 2), 1 - v, v)
    if aug.mirror:
        rows = np.flatnonzero(rng.random(b) < 0.5)
        if len(rows):
            follower_exists = batch["follower_exists"][rows] > 0
            for g, cols in _PLAYER_MIRROR.items():
                _negate(batch["player_" + g], rows, cols, _PLAYER_BINARY[g])
                _negate(batch["follower_" + g], rows, cols, _PLAYER_BINARY[g], follower_exists)
            for g, cols in _CONTROLLER_MIRROR.items():
                _negate(batch["controller_" + g], rows, cols, np.zeros_like(cols))
            item_exists = batch["item_exists"][rows] > 0
            for g, cols in _ITEM_MIRROR.items():
                _negate(batch["item_" + g], rows, cols, _ITEM_BINARY[g], item_exists)
    return batch


class WindowSampler:
    """Seeded, resumable, rank-aware random windows from some games of a store."""

    def __init__(
        self,
        store: Store,
        games: np.ndarray,
        context: int,
        batch_size: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        include_pregame: bool = False,
        augment: Augment = Augment(),
        item_slots: int = MAX_ITEM_SLOTS,
    ):
        if context < 1:
            raise StoreError(f"context K must be at least 1, got {context}")
        if batch_size < 1:
            raise StoreError(f"batch size must be at least 1, got {batch_size}")
        if len(games) == 0:
            raise StoreError("the split is empty: no games to sample windows from")
        self.store, self.window = store, context + 1
        self.batch_size, self.seed = batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.augment_spec = augment
        self.gather = Gather(store, self.window, item_slots)
        start = store.start[games]
        length = store.length[games].astype(np.int64)
        skip = (
            np.zeros_like(length)
            if include_pregame
            else np.clip(store.index["actionable_offset"].to_numpy()[games], 0, None)
        )
        first = start + skip
        n_valid = start + length - self.window - first + 1  # possible window starts per game
        usable = n_valid > 0
        if not usable.any():
            longest = int((length - skip).max())
            raise StoreError(
                f"a window of K+1 = {self.window} frames is longer than every game in the split "
                f"(longest usable: {longest} frames)"
            )
        self.games = np.asarray(games)[usable]
        self.first = first[usable]
        self.n_valid = n_valid[usable]
        self.slots = np.maximum(1, self.n_valid // self.window)
        self.cum_slots = np.cumsum(self.slots)
        total = int(self.cum_slots[-1])
        self.per_rank = total // world_size
        if self.per_rank < 1:
            raise StoreError(f"only {total} windows in the split for {world_size} ranks")

    def __len__(self) -> int:
        """Full batches per epoch for this rank."""
        return self.per_rank // self.batch_size

    def epoch_windows(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(global start frame, game index) of this rank's windows for one epoch, in order."""
        rng = np.random.default_rng([self.seed, epoch])
        spare = self.n_valid - (self.slots - 1) * self.window
        offset = (rng.random(len(self.games)) * spare).astype(np.int64)
        order = rng.permutation(int(self.cum_slots[-1]))
        mine = order[self.rank :: self.world_size][: self.per_rank]
        g = np.searchsorted(self.cum_slots, mine, side="right")
        j = mine - (self.cum_slots[g] - self.slots[g])
        return self.first[g] + offset[g] + j * self.window, self.games[g]

    def batches(self, epoch: int, skip_batches: int = 0) -> Iterator[Batch]:
        """This rank's batches of one epoch; `skip_batches` resumes mid-epoch. Augmentation draws
        come from (seed, epoch, rank, batch), so a resumed epoch is identical to an unbroken one."""
        starts, games = self.epoch_windows(epoch)
        augmenting = self.augment_spec.swap_players or self.augment_spec.mirror
        for i in range(skip_batches, len(self)):
            sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
            batch = self.gather(starts[sl], games[sl])
            if augmenting:
                augment(batch, self.augment_spec, np.random.default_rng([self.seed, epoch, self.rank, i]))
            yield batch


def whole_game(store: Store, game: int, include_pregame: bool = True,
               item_slots: int = MAX_ITEM_SLOTS) -> Batch:
    """One game, every frame in order, as a batch of one window (for evaluation)."""
    start, length = int(store.start[game]), int(store.length[game])
    skip = 0 if include_pregame else max(0, int(store.index["actionable_offset"][game].as_py()))
    gather = Gather(store, length - skip, item_slots, reuse=False)
    return gather(np.array([start + skip]), np.array([game]))
