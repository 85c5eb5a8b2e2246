"""Shared test fixtures: where the real replays live, and one ingest of them reused by many tests.

Two sources of real replays:
- the corpus, ../shared/replays (174 files; set DREAMLAND_SHARED to the shared folder), used
  whenever it is there;
- without it, tests/fixtures/replays: a few MIT-licensed files of that corpus, gzipped (see its
  README.md), which serve every test that needs only named files. A test that names a file the
  fixtures do not hold runs on the file's stand-in (STAND_INS) or skips saying which file it
  needs; a test of the whole corpus skips.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DREAMLAND_SHARED", ROOT.parent / "shared"))
REPLAYS = SHARED / "replays"
EXTRA_7Z = SHARED / "replays-extra" / "games.7z"
FIXTURE_REPLAYS = ROOT / "tests" / "fixtures" / "replays"
HAVE_CORPUS = REPLAYS.is_dir()

# Files of the corpus that tests name but tests/fixtures/replays cannot hold (their repositories
# are not under a permissive license), and the fixture file that takes each one's place in those
# tests when the corpus is absent.
STAND_INS = {
    # 3.13, Falcon vs Fox, Fountain of Dreams, 27 rollback rows: 3.14, Falco vs Fox, Pokemon
    # Stadium, lasers, 1 rollback row
    "PMcca_go-slippi__test_replays_metadata.slp": "Walnut356_SlippiStats__Modern_Replays_Game_20221228T031427.slp",
    # Slippi 0.1.0
    "dustinlapierre_Slippi_Parser__Game_20171221T170535.slp": "hohav_peppi__tests_data_v0.1.slp",
    # not a replay (a PNG named .slp; a text file named .slp, written for these tests)
    "altf4_libmelee__test_artifacts_corrupt_game_2.slp": "dreamland__not_a_replay.slp",
    # truncated: the raw length field is 0
    "project-slippi_slippi-js__slp_incomplete.slp": "hohav_peppi__tests_data_corrupt.slp",
}


def corpus_or_stand_ins(*names: str) -> list[str]:
    """`names` as they are when the corpus is there; without it, each with its stand-in."""
    return list(names) if HAVE_CORPUS else [STAND_INS.get(n, n) for n in names]


def fixture_replay_names() -> list[str]:
    return sorted(p.name[: -len(".gz")] for p in FIXTURE_REPLAYS.glob("*.slp.gz"))


def require_replays() -> Path:
    """The whole corpus, or a skip."""
    if not HAVE_CORPUS:
        pytest.skip(f"needs the whole replay corpus, not found at {REPLAYS} (set DREAMLAND_SHARED to the "
                    "shared folder); tests/fixtures/replays holds only a few of its files")
    return REPLAYS


@pytest.fixture(scope="session")
def replays_dir() -> Path:
    """The whole corpus (tests that need only named files use `replay_file`)."""
    return require_replays()


@pytest.fixture(scope="session")
def replay_file(tmp_path_factory) -> Callable[[str], Path]:
    """`replay_file(name)`: the path of one replay of the corpus, by its file name. With the corpus,
    the corpus's own file; without it, its copy from tests/fixtures/replays (unpacked once per
    session), or a skip that names the file."""
    if HAVE_CORPUS:
        return lambda name: REPLAYS / name
    folder = tmp_path_factory.mktemp("fixture-replays")

    def get(name: str) -> Path:
        path = folder / name
        if not path.exists():
            packed = FIXTURE_REPLAYS / f"{name}.gz"
            if not packed.is_file():
                pytest.skip(f"needs {name} of the replay corpus, not found at {REPLAYS} (set DREAMLAND_SHARED "
                            "to the shared folder); tests/fixtures/replays does not hold it")
            part = path.with_name(path.name + ".part")
            part.write_bytes(gzip.decompress(packed.read_bytes()))
            part.rename(path)
        return path

    return get


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


@pytest.fixture(scope="session")
def named_dataset(request, replay_file, tmp_path_factory):
    """A dataset holding the replays tests name: `corpus_dataset` when the corpus is there; without
    it, every file of tests/fixtures/replays ingested once."""
    if HAVE_CORPUS:
        return request.getfixturevalue("corpus_dataset")
    from dreamland.replay.ingest import ingest

    root = tmp_path_factory.mktemp("fixtures")
    folder = root / "replays"
    folder.mkdir()
    for name in fixture_replay_names():
        (folder / name).symlink_to(replay_file(name))
    summary = ingest([str(folder)], root / "dataset", workers=1)
    return root / "dataset", summary


# Full 1v1 games of the test corpus with rollback, items (turnips, lasers), Ice Climbers and a
# transformation, small enough to ingest and pack in about a second. Without the corpus, the
# second game is its stand-in (another short netplay game with lasers and a rollback row).
STORE_GAMES = corpus_or_stand_ins(
    "Gaurav-Iyer_stockfox__test.slp",  # Peach vs Falcon, FD, turnips
    "PMcca_go-slippi__test_replays_metadata.slp",  # Falcon vs Fox, FoD, rollback
    "Walnut356_SlippiStats__Modern_Replays_Game_20221227T212019.slp",  # Ice Climbers, DL
    "Walnut356_SlippiStats__Modern_Replays_Game_20221227T193458.slp",  # Sheik vs Falco, BF
    "Walnut356_SlippiStats__Modern_Replays_Game_20221228T025702.slp",  # Marth vs Falco, YS, Shy Guys
)


@pytest.fixture(scope="session")
def small_dataset(replay_file, tmp_path_factory):
    """A dataset of five real full games (see STORE_GAMES)."""
    from dreamland.replay.ingest import ingest

    root = tmp_path_factory.mktemp("small")
    folder = root / "replays"
    folder.mkdir()
    for name in STORE_GAMES:
        (folder / name).symlink_to(replay_file(name))
    ingest([str(folder)], root / "dataset", workers=1)
    return root / "dataset"


@pytest.fixture(scope="session")
def small_store(small_dataset, tmp_path_factory):
    """The five games of `small_dataset`, packed into a training store."""
    from dreamland.data.store import Store, pack

    out = tmp_path_factory.mktemp("store") / "store"
    pack(small_dataset, out)
    return Store(out)
