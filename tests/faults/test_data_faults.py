"""ingest, pack and opening a store when the disk is full, a file is damaged, or two runs collide:
one line naming the file and what to do, a non-zero exit, nothing partial left behind."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dreamland.data import store as store_module
from dreamland.data.store import Store, StoreError, pack
from dreamland.replay.dataset import Dataset, DatasetError
from dreamland.replay.ingest import dataset_lock, ingest

from tests.conftest import corpus_or_stand_ins

from .conftest import assert_one_line_error, run_cli

GAMES = corpus_or_stand_ins("Gaurav-Iyer_stockfox__test.slp", "PMcca_go-slippi__test_replays_metadata.slp",
                            "hohav_peppi__tests_data_items.slp", "altf4_libmelee__test_artifacts_corrupt_game_2.slp")


@pytest.fixture(scope="module")
def replays(replay_file, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fault-replays")
    for name in GAMES:
        (folder / name).symlink_to(replay_file(name))
    return folder


def _copy(src: Path, tmp_path: Path, name: str) -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst, symlinks=True)
    return dst


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# --- pack ---------------------------------------------------------------------------------------


def test_pack_onto_a_full_disk_is_one_line_and_leaves_nothing(small_dataset, small_disk):
    out = small_disk / "store"
    proc = run_cli("pack", str(small_dataset), "--out", str(out), "-q")
    assert_one_line_error(proc, str(out), "MB free")
    assert _leftovers(small_disk) == []


def test_pack_reserves_its_space_so_a_full_disk_is_an_error_not_a_bus_error(small_dataset, small_disk):
    """Without the free-space check, the reservation of each array is what stands between a full
    disk and a SIGBUS inside numpy (exit 135, no message)."""
    out = small_disk / "store"
    code = ("import sys; import dreamland.data.store as s; s._check_space = lambda *a: None; "
            "from dreamland.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "pack", str(small_dataset), "--out", str(out), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert_one_line_error(proc, str(out), "No space left on device", "nothing was kept")
    assert _leftovers(small_disk) == []


def test_pack_of_a_damaged_parquet_file_names_it_and_leaves_nothing(small_dataset, tmp_path):
    dataset = _copy(small_dataset, tmp_path, "dataset")
    batch = sorted((dataset / "parts").iterdir())[0]
    players = batch / "players.parquet"
    players.write_bytes(players.read_bytes()[: players.stat().st_size // 2])
    out = tmp_path / "store"
    with pytest.raises(StoreError, match="players.parquet: damaged"):
        pack(dataset, out)
    assert not out.exists() and not (tmp_path / "store.tmp").exists()
    proc = run_cli("pack", str(dataset), "--out", str(out), "-q")
    assert_one_line_error(proc, str(players), "run dreamland ingest again")
    assert not out.exists() and not (tmp_path / "store.tmp").exists()
    (batch / "items.parquet").unlink()
    players.unlink()
    with pytest.raises(StoreError, match="damaged"):
        pack(dataset, out)


def test_a_damaged_manifest_is_one_line(small_dataset, tmp_path):
    dataset = _copy(small_dataset, tmp_path, "dataset")
    manifest = sorted((dataset / "parts").iterdir())[0] / "games.parquet"
    manifest.write_bytes(b"PAR1 not really")
    with pytest.raises(DatasetError, match="games.parquet: damaged"):
        Dataset(dataset).manifest()
    for args in (["stats", str(dataset)], ["pack", str(dataset), "--out", str(tmp_path / "s")]):
        assert_one_line_error(run_cli(*args), str(manifest))


def test_a_pack_interrupted_by_an_error_removes_its_partial_output(small_dataset, tmp_path, monkeypatch):
    def fail(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module.pq, "write_table", fail)  # the game index, after every array
    with pytest.raises(StoreError, match="No space left on device"):
        pack(small_dataset, tmp_path / "store")
    assert _leftovers(tmp_path) == []


# --- opening a store ------------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["missing", "short", "other shape", "other dtype"])
def test_a_store_with_a_missing_or_wrong_array_is_refused_when_opened(small_store, tmp_path, damage):
    store = _copy(small_store.path, tmp_path, "store")
    victim = store / "item_real.npy"  # read only when a batch holds items: deep in a training run
    array = np.load(victim)
    if damage == "missing":
        victim.unlink()
    elif damage == "short":
        victim.write_bytes(victim.read_bytes()[:-64])
    elif damage == "other shape":
        np.save(victim, array[:-1])
    else:
        np.save(victim, array.astype(np.float64))
    with pytest.raises(StoreError, match="item_real.npy"):
        Store(store)
    assert_one_line_error(run_cli("store", str(store)), "item_real.npy")


def test_a_store_missing_an_array_stops_training_before_it_starts(small_store, tmp_path):
    store = _copy(small_store.path, tmp_path, "store")
    (store / "follower_exists.npy").unlink()
    proc = run_cli("train", "--store", str(store), "--preset", "tiny", "--run-dir", str(tmp_path / "run"),
                   "--max-steps", "1", "-q")
    assert_one_line_error(proc, "follower_exists.npy", "pack the dataset again")


# --- ingest ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_ingest_onto_a_full_disk_is_one_line_and_keeps_nothing_partial(replays, small_disk, workers):
    out = small_disk / "dataset"
    with pytest.raises(DatasetError, match="No space left on device"):
        ingest([str(replays)], out, workers=workers, chunk_games=1)
    for batch in (out / "parts").iterdir():  # what was published is whole
        assert {p.name for p in batch.iterdir()} == {"games.parquet", "players.parquet", "items.parquet"}
    assert [p.name for p in (out / "_tmp").iterdir() if not p.name.endswith(".lock")] == []
    Dataset(out).manifest()  # and readable
    shutil.rmtree(out)
    proc = run_cli("ingest", str(replays), "--out", str(out), "--workers", "1", "-q")
    assert_one_line_error(proc, str(out), "No space left on device", "run the same command again")


def test_two_ingests_into_one_dataset_at_once_write_each_row_once(replays, tmp_path):
    out = tmp_path / "dataset"
    Dataset.create_or_open(out)
    logs = [tmp_path / "a.err", tmp_path / "b.err"]
    cmd = [sys.executable, "-m", "dreamland.cli", "ingest", str(replays), "--out", str(out),
           "--workers", "1", "-q", "--json"]
    with dataset_lock(out):  # both start while the dataset is held, so they surely overlap
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log.open("w"), text=True) for log in logs]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all("waiting" in log.read_text() for log in logs):
            time.sleep(0.05)
        assert all("waiting for another dreamland ingest" in log.read_text() for log in logs)
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [log.read_text() for log in logs]
    manifest = Dataset(out).manifest()
    assert manifest.num_rows == len(GAMES)  # each replay once
    assert sorted(manifest["source_key"].to_pylist()) == sorted(set(manifest["source_key"].to_pylist()))
    import json

    seen = sorted(json.loads(o)["replays_seen"] for o in outs)
    assert seen == [0, len(GAMES)]  # the second found them all done


def test_shards_of_one_count_run_side_by_side_but_a_whole_run_waits(tmp_path):
    out = tmp_path / "dataset"
    Dataset.create_or_open(out)
    told: list[str] = []
    with dataset_lock(out, (0, 2)):
        with dataset_lock(out, (1, 2), notify=told.append):
            pass
        assert told == []
        code = ("import sys; from pathlib import Path; from dreamland.replay.ingest import dataset_lock\n"
                "with dataset_lock(Path(sys.argv[1]), (0, 1), notify=print): print('got it', flush=True)")
        waiter = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
        assert "waiting" in waiter.stdout.readline()
        time.sleep(0.2)
        assert waiter.poll() is None
    assert waiter.communicate(timeout=60)[0].strip() == "got it"
