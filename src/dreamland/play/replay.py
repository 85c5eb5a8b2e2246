"""A `.slp` replay as play frames: store values per frame and each player's inputs.

Read with `dreamland.replay.parse.parse_game` (peppi-py; rollback finalised: the last version of
each frame), then converted exactly as `data.store.pack` converts a game: `layout.store_value` for
every state field (port references made player-relative), `layout.store_controller` for the
inputs, `data.items.assign_slots` for item slots. Only the first two ports are used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import Tensor

from dreamland.data import layout
from dreamland.data.encoding import encode_controller
from dreamland.data.items import MAX_ITEM_SLOTS, assign_slots
from dreamland.replay.parse import parse_game


def _fill(column) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    return column.fill_null(0).to_numpy(zero_copy_only=False) if column.null_count else column.to_numpy(zero_copy_only=False)


@dataclass
class ReplayGame:
    path: str
    frame_ids: np.ndarray  # (T,) the game's frame ids (-123 ...)
    frames: dict[str, np.ndarray]  # store arrays (T, ...) plus stage (scalar) and characters (2,)
    controllers: Tensor  # (T, 2, 17) encoded inputs (pre-frame) of each frame
    ports: tuple[int, int]
    stage: int
    characters: tuple[int, int]  # internal

    def __len__(self) -> int:
        return len(self.frame_ids)

    def index_of(self, frame_id: int) -> int:
        """Row of a game frame id (clamped to the game)."""
        return int(np.clip(frame_id - int(self.frame_ids[0]), 0, len(self) - 1))

    def window(self, end_row: int, k: int) -> dict[str, Tensor]:
        """Frames end_row-k+1 .. end_row as a (1, K, ...) seed (data.windows batch layout)."""
        lo = max(0, end_row - k + 1)
        rows = np.arange(lo, end_row + 1)
        if len(rows) < k:
            rows = np.r_[np.full(k - len(rows), lo), rows]
        out: dict[str, Tensor] = {}
        for key, v in self.frames.items():
            if key in ("stage", "characters"):
                continue
            arr = v[rows]
            if arr.dtype == np.uint16:
                arr = arr.astype(np.int32)
            out[key] = torch.from_numpy(np.ascontiguousarray(arr))[None]
        out["stage"] = torch.tensor([self.stage], dtype=torch.long)
        out["characters"] = torch.tensor([list(self.characters)], dtype=torch.long)
        return out


def load_replay(path: str | Path, item_slots: int = MAX_ITEM_SLOTS) -> ReplayGame:
    parsed = parse_game(str(path), Path(path).name)
    info = parsed.info
    ports = tuple(info["ports"][:2])
    if len(ports) < 2:
        raise ValueError(f"{path}: a replay with two players is needed")
    players = parsed.players
    n = info["frames"]
    leaders = []
    for port in ports:
        mask = pc.and_(pc.equal(players["port"], port), pc.equal(players["follower"], False))
        leaders.append(players.filter(mask))
    frames: dict[str, np.ndarray] = {}
    frame_ids = leaders[0]["frame"].to_numpy()
    for who, tables in (("player", leaders), ("follower", None)):
        for g in layout.PLAYER_GROUPS:
            frames[f"{who}_{g.name}"] = np.zeros((n, 2, len(g.fields)), g.dtype)
        frames[f"{who}_exists"] = np.zeros((n, 2), np.uint8)
    for slot, port in enumerate(ports):
        for who, follower in (("player", False), ("follower", True)):
            mask = pc.and_(pc.equal(players["port"], port), pc.equal(players["follower"], follower))
            t = players.filter(mask)
            if t.num_rows == 0:
                continue
            frames[f"{who}_exists"][:, slot] = t["action"].is_valid().to_numpy(zero_copy_only=False)
            for g in layout.PLAYER_GROUPS:
                for j, f in enumerate(g.fields):
                    frames[f"{who}_{g.name}"][:, slot, j] = layout.store_value(f, _fill(t[f.name]), ports)
    sticks = np.zeros((n, 2, len(layout.CONTROLLER_GROUPS[0].fields)), np.float32)
    buttons = np.zeros((n, 2), np.int64)
    for slot, t in enumerate(leaders):
        for j, f in enumerate(layout.CONTROLLER_GROUPS[0].fields):
            sticks[:, slot, j] = layout.store_controller(f, _fill(t[f.name]))
        f = layout.CONTROLLER_GROUPS[1].fields[0]
        buttons[:, slot] = layout.store_controller(f, _fill(t[f.name]))
    frames["controller_sticks"] = sticks.astype(np.float16)
    frames["controller_buttons"] = buttons[..., None].astype(np.int32)
    frames["frame_id"] = frame_ids.astype(np.int32)
    # items into slots
    for g in layout.ITEM_GROUPS:
        frames[f"item_{g.name}"] = np.zeros((n, item_slots, len(g.fields)), g.dtype)
    frames["item_exists"] = np.zeros((n, item_slots), np.uint8)
    items = parsed.items
    if items.num_rows:
        local = items["frame"].to_numpy() - int(frame_ids[0])
        slots = assign_slots(local, items["item_id"].to_numpy(), item_slots)
        keep = (slots < item_slots) & (local >= 0) & (local < n)
        for g in layout.ITEM_GROUPS:
            for j, f in enumerate(g.fields):
                vals = layout.store_value(f, _fill(items[f.name]), ports)
                frames[f"item_{g.name}"][local[keep], slots[keep].astype(np.int64), j] = vals[keep]
        frames["item_exists"][local[keep], slots[keep].astype(np.int64)] = 1
    chars = tuple(int(c) if c is not None else 0 for c in info["characters"][:2])
    controllers = encode_controller(torch.from_numpy(sticks), torch.from_numpy(buttons))
    return ReplayGame(str(path), frame_ids, frames, controllers, ports, int(info["stage"]), chars)  # type: ignore[arg-type]
