"""The ingested dataset on disk: a manifest of games and Parquet tables of frames.

Layout (see docs/dataset.md)::

    DATASET/
      dataset.json                 format version and schema fingerprint
      parts/<batch>/games.parquet  manifest rows: one per replay seen (ok, failed, filtered, duplicate)
      parts/<batch>/players.parquet  one row per game x frame x port x (leader | follower)
      parts/<batch>/items.parquet    one row per game x frame x live item
      _tmp/                        work in progress of running ingests; never read
      _tmp/ingest*.lock            held by a running ingest (replay.ingest.dataset_lock)

A batch becomes visible only when its folder is renamed into `parts/`, which is atomic, so a killed
ingest never leaves a partial file that a reader would see.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dreamland import __version__
from dreamland.fsutil import write_text_atomic
from dreamland.schema import storage_fingerprint

FORMAT = "dreamland-dataset"
FORMAT_VERSION = 1
STATUSES = ("ok", "failed", "filtered", "duplicate")


class DatasetError(Exception):
    """A dataset folder that cannot be used."""


def manifest_schema() -> pa.Schema:
    lu8 = pa.list_(pa.uint8())
    return pa.schema(
        [
            pa.field("game_id", pa.string()),  # sha256 of the replay bytes: the dedup key
            pa.field("status", pa.string()),
            pa.field("reason", pa.string()),  # failure / filter / duplicate reason
            pa.field("detail", pa.string()),  # the parser's own message
            pa.field("duplicate_of", pa.string()),
            pa.field("eligible", pa.bool_()),
            pa.field("ineligible_reason", pa.string()),
            pa.field("source", pa.string()),  # file path, or the archive's path
            pa.field("member", pa.string()),  # member inside the archive
            pa.field("source_key", pa.string()),  # stable key used for sharding and reruns
            pa.field("source_size", pa.int64()),
            pa.field("slippi_version", pa.string()),
            pa.field("stage", pa.int16()),  # external (start-block) stage id
            pa.field("characters", lu8),  # internal ids, per port in `ports`
            pa.field("characters_external", lu8),
            pa.field("ports", lu8),  # 1..4
            pa.field("player_types", pa.list_(pa.string())),
            pa.field("has_follower", pa.list_(pa.bool_())),
            pa.field("names", pa.list_(pa.string())),
            pa.field("codes", pa.list_(pa.string())),
            pa.field("frames", pa.int32()),  # finalized frames
            pa.field("frame_rows", pa.int32()),  # rows in the file, rollback included
            pa.field("first_frame", pa.int32()),
            pa.field("last_frame", pa.int32()),
            pa.field("rollbacks", pa.int32()),
            pa.field("end_method", pa.string()),
            pa.field("lras_initiator", pa.uint8()),
            pa.field("placements", lu8),
            pa.field("winner", pa.uint8()),  # port
            pa.field("start_time", pa.string()),
            pa.field("platform", pa.string()),
            pa.field("match_id", pa.string()),
            pa.field("match_game", pa.int32()),
            pa.field("timer_seconds", pa.int32()),
            pa.field("is_teams", pa.bool_()),
            pa.field("is_pal", pa.bool_()),
            pa.field("item_records", pa.int32()),
            pa.field("parse_ms", pa.float32()),
            pa.field("batch", pa.string()),
            pa.field("ingested_at", pa.string()),
        ]
    )


def manifest_table(rows: list[dict]) -> pa.Table:
    schema = manifest_schema()
    return pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows], schema=schema)


class Dataset:
    """Read access to an ingested dataset. Never loads frames unless asked for one game."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta = self.path / "dataset.json"
        if not self.path.is_dir():
            raise DatasetError(f"{path}: no such dataset folder")
        if not meta.is_file():
            raise DatasetError(f"{path}: not a dreamland dataset (no dataset.json)")
        try:
            self.meta = json.loads(meta.read_text())
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{meta}: unreadable ({exc})") from None
        if self.meta.get("format") != FORMAT:
            raise DatasetError(f"{path}: not a dreamland dataset")
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise DatasetError(
                f"{path}: dataset format {self.meta.get('format_version')}, this dreamland reads "
                f"{FORMAT_VERSION}; ingest again into a new folder"
            )
        if self.meta.get("schema_fingerprint") != storage_fingerprint():
            raise DatasetError(
                f"{path}: written with schema {self.meta.get('schema_fingerprint')}, this dreamland "
                f"uses schema {storage_fingerprint()}; ingest again into a new folder"
            )

    @staticmethod
    def create_or_open(path: str | Path) -> "Dataset":
        root = Path(path)
        meta = root / "dataset.json"
        if root.exists() and not root.is_dir():
            raise DatasetError(f"{path}: exists and is not a folder")
        if not meta.exists():
            if root.exists() and any(p.name not in ("_tmp",) for p in root.iterdir()):
                raise DatasetError(f"{path}: folder is not empty and is not a dreamland dataset")
            root.mkdir(parents=True, exist_ok=True)
            identity = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "schema_fingerprint": storage_fingerprint(),
                "created_by": f"dreamland {__version__}",
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            write_text_atomic(meta, json.dumps(identity, indent=2))
        (root / "parts").mkdir(exist_ok=True)
        return Dataset(root)

    def batches(self) -> list[Path]:
        parts = self.path / "parts"
        return sorted(p for p in parts.iterdir() if p.is_dir()) if parts.is_dir() else []

    def manifest(self) -> pa.Table:
        """Every manifest row of every committed batch; rows of later copies of a game that two
        concurrent shards both kept are marked duplicate here, so a game counts once."""
        files = [b / "games.parquet" for b in self.batches()]
        if not files:
            return manifest_schema().empty_table()
        table = pa.concat_tables([_read_manifest_part(f) for f in files])
        return _resolve_cross_shard_duplicates(table)

    def games(self, status: str = "ok") -> pa.Table:
        m = self.manifest()
        return m.filter(pa.compute.equal(m["status"], status))

    def _read(self, table: str, game_id: str) -> pa.Table:
        m = self.games("ok")
        ids = m["game_id"].to_pylist()
        if game_id not in ids:
            raise DatasetError(f"game {game_id} is not in {self.path}")
        batch = m["batch"][ids.index(game_id)].as_py()
        path = self.path / "parts" / batch / f"{table}.parquet"
        return pq.read_table(path, filters=[("game_id", "=", game_id)])

    def players(self, game_id: str) -> pa.Table:
        """One game's player rows, ordered by port, leader before follower, then frame."""
        return self._read("players", game_id)

    def items(self, game_id: str) -> pa.Table:
        return self._read("items", game_id)

    def glob(self, table: str) -> str:
        """A glob DuckDB, Polars and pandas/pyarrow read directly: `SELECT * FROM '<glob>'`."""
        return str(self.path / "parts" / "*" / f"{table}.parquet")


def _read_manifest_part(path: Path) -> pa.Table:
    try:
        return pq.read_table(path, schema=manifest_schema())
    except (OSError, pa.ArrowException) as exc:
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DatasetError(f"{path}: damaged ({why}); delete its batch folder {path.parent.name} and run "
                           "dreamland ingest again with the same sources (it adds those games back)") from None


def _resolve_cross_shard_duplicates(table: pa.Table) -> pa.Table:
    status = table["status"].to_numpy(zero_copy_only=False)
    ok = np.flatnonzero(status == "ok")
    if len(ok) < 2:
        return table
    ids = table["game_id"].to_numpy(zero_copy_only=False)[ok]
    order = np.lexsort((table["batch"].to_numpy(zero_copy_only=False)[ok], ids))
    sorted_ids = ids[order]
    repeat = np.zeros(len(ok), dtype=bool)
    repeat[1:] = sorted_ids[1:] == sorted_ids[:-1]
    if not repeat.any():
        return table
    later = ok[order[repeat]]
    new_status = status.copy()
    new_status[later] = "duplicate"
    reason = table["reason"].to_pylist()
    dup_of = table["duplicate_of"].to_pylist()
    for i in later:
        reason[i] = "same bytes ingested by another shard"
        dup_of[i] = table["game_id"][int(i)].as_py()
    table = table.set_column(table.schema.get_field_index("status"), "status", pa.array(new_status))
    table = table.set_column(table.schema.get_field_index("reason"), "reason", pa.array(reason, pa.string()))
    return table.set_column(
        table.schema.get_field_index("duplicate_of"), "duplicate_of", pa.array(dup_of, pa.string())
    )
