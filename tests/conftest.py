"""Shared test fixtures: where the real replays live, and one ingest of them reused by many tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DREAMLAND_SHARED", ROOT.parent / "shared"))
REPLAYS = SHARED / "replays"
EXTRA_7Z = SHARED / "replays-extra" / "games.7z"


def require_replays() -> Path:
    if not REPLAYS.is_dir():
        pytest.skip(f"real replays not found at {REPLAYS} (set DREAMLAND_SHARED to the shared folder)")
    return REPLAYS


@pytest.fixture(scope="session")
def replays_dir() -> Path:
    return require_replays()


@pytest.fixture(scope="session")
def inventory(replays_dir) -> dict[str, dict]:
    """INVENTORY.tsv: what peppi-py, py-slippi and vladfi's fork read from each replay,
    measured independently of dreamland when the corpus was collected."""
    import csv

    with open(replays_dir / "INVENTORY.tsv", newline="") as fh:
        return {row["file"]: row for row in csv.DictReader(fh, delimiter="\t")}


@pytest.fixture(scope="session")
def corpus_dataset(replays_dir, tmp_path_factory):
    """All of ../shared/replays ingested once, with two workers."""
    from dreamland.replay.ingest import ingest

    out = tmp_path_factory.mktemp("corpus") / "dataset"
    summary = ingest([str(replays_dir)], out, workers=2)
    return out, summary
