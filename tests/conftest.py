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


# Full 1v1 games of the test corpus with rollback, items (turnips, lasers), Ice Climbers and a
# transformation, small enough to ingest and pack in about a second.
STORE_GAMES = [
    "Gaurav-Iyer_stockfox__test.slp",  # Peach vs Falcon, FD, turnips
    "PMcca_go-slippi__test_replays_metadata.slp",  # Falcon vs Fox, FoD, rollback
    "Walnut356_SlippiStats__Modern_Replays_Game_20221227T212019.slp",  # Ice Climbers, DL
    "Walnut356_SlippiStats__Modern_Replays_Game_20221227T193458.slp",  # Sheik vs Falco, BF
    "Walnut356_SlippiStats__Modern_Replays_Game_20221228T025702.slp",  # Marth vs Falco, YS, Shy Guys
]


@pytest.fixture(scope="session")
def small_dataset(replays_dir, tmp_path_factory):
    """A dataset of five real full games (see STORE_GAMES)."""
    from dreamland.replay.ingest import ingest

    root = tmp_path_factory.mktemp("small")
    folder = root / "replays"
    folder.mkdir()
    for name in STORE_GAMES:
        (folder / name).symlink_to(replays_dir / name)
    ingest([str(folder)], root / "dataset", workers=1)
    return root / "dataset"


@pytest.fixture(scope="session")
def small_store(small_dataset, tmp_path_factory):
    """The five games of `small_dataset`, packed into a training store."""
    from dreamland.data.store import Store, pack

    out = tmp_path_factory.mktemp("store") / "store"
    pack(small_dataset, out)
    return Store(out)
