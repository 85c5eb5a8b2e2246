"""Ingest runs: archives, reruns, kills, shards and bad input give the datasets they should."""

from __future__ import annotations

import gzip
import io
import os
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dreamland.cli import main
from dreamland.replay.dataset import Dataset
from dreamland.replay.ingest import Filters, ingest
from tests.conftest import corpus_or_stand_ins

# A small mixed set: full games, rollback, Ice Climbers, 0.1.0, items, and two broken files.
SUBSET = corpus_or_stand_ins(
    "Gaurav-Iyer_stockfox__test.slp",
    "PMcca_go-slippi__test_replays_metadata.slp",
    "Walnut356_SlippiStats__Modern_Replays_Game_20221227T212019.slp",
    "dustinlapierre_Slippi_Parser__Game_20171221T170535.slp",
    "hohav_peppi__tests_data_items.slp",
    "altf4_libmelee__test_artifacts_corrupt_game_2.slp",
    "project-slippi_slippi-js__slp_incomplete.slp",
)

VOLATILE = {"source", "member", "source_key", "source_size", "batch", "ingested_at", "parse_ms"}


def snapshot(path: Path) -> tuple[list[dict], dict[str, pa.Table]]:
    """Everything a dataset says about its games, independent of how and where they came from."""
    ds = Dataset(path)
    manifest = sorted(
        ({k: v for k, v in r.items() if k not in VOLATILE} for r in ds.manifest().to_pylist()),
        key=lambda r: (r["game_id"] or "", r["status"]),
    )
    tables = {}
    for name in ("players", "items"):
        files = [b / f"{name}.parquet" for b in ds.batches()]
        t = pa.concat_tables([pq.read_table(f) for f in files])
        t = t.set_column(0, "game_id", t["game_id"].cast(pa.string()))
        keys = ["game_id", "frame"] + (["port", "follower"] if name == "players" else ["item_id"])
        tables[name] = t.sort_by([(k, "ascending") for k in keys])
    return manifest, tables


def assert_same_dataset(a: Path, b: Path) -> None:
    ma, ta = snapshot(a)
    mb, tb = snapshot(b)
    assert ma == mb
    for name in ta:
        assert ta[name].equals(tb[name]), name


@pytest.fixture(scope="module")
def subset(replay_file, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("subset")
    for name in SUBSET:
        (folder / name).symlink_to(replay_file(name))
    return folder


@pytest.fixture(scope="module")
def loose(subset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("loose") / "ds"
    summary = ingest([str(subset)], out, workers=1)
    assert summary.statuses["ok"] == 5 and summary.statuses["failed"] == 2
    return out


def test_archives_equal_loose_files(subset, loose, tmp_path):
    files = sorted(subset.iterdir())
    zpath = tmp_path / "replays.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f"inner/{f.name}")
    tpath = tmp_path / "replays.tar.gz"
    with tarfile.open(tpath, "w:gz") as tf:
        for f in files:
            # one member gzipped on its own, as some collections ship them
            if f.name.startswith("Gaurav"):
                data = gzip.compress(f.read_bytes())
                info = tarfile.TarInfo(f.name + ".gz")
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.add(f.resolve(), arcname=f.name)
    py7zr = pytest.importorskip("py7zr")
    spath = tmp_path / "replays.7z"
    with py7zr.SevenZipFile(spath, "w") as sz:
        for f in files:
            sz.write(f.resolve(), f.name)
    for archive in (zpath, tpath, spath):
        out = tmp_path / f"ds-{archive.name}"
        summary = ingest([str(archive)], out, workers=2)
        assert summary.seen == len(files), archive
        assert_same_dataset(loose, out)
        members = {r["member"] for r in Dataset(out).manifest().to_pylist()}
        assert all(m for m in members), "archive rows name their member"


def test_rerun_adds_nothing(subset, tmp_path):
    out = tmp_path / "ds"
    ingest([str(subset)], out, workers=1)
    before = sorted(p.name for p in (out / "parts").iterdir())
    again = ingest([str(subset)], out, workers=2)
    assert again.seen == 0 and again.skipped_known == len(SUBSET)
    assert sorted(p.name for p in (out / "parts").iterdir()) == before


def test_same_bytes_under_another_name_are_deduplicated(subset, replay_file, tmp_path):
    out = tmp_path / "ds"
    ingest([str(subset)], out, workers=1)
    copy = tmp_path / "copies"
    copy.mkdir()
    (copy / "renamed.slp").write_bytes(replay_file(SUBSET[0]).read_bytes())
    (copy / "twice.slp").write_bytes(replay_file(SUBSET[0]).read_bytes())
    summary = ingest([str(copy)], out, workers=1)
    assert summary.statuses["duplicate"] == 2 and summary.statuses["ok"] == 0
    ok = Dataset(out).games("ok")
    assert len(set(ok["game_id"].to_pylist())) == ok.num_rows == 5


def test_two_shards_merge_to_one_run(subset, loose, tmp_path):
    out = tmp_path / "ds"
    a = ingest([str(subset)], out, workers=1, shard=(0, 2))
    b = ingest([str(subset)], out, workers=1, shard=(1, 2))
    assert a.seen > 0 and b.seen > 0 and a.seen + b.seen == len(SUBSET)
    assert_same_dataset(loose, out)


def test_killed_run_is_completed_by_the_next(replays_dir, tmp_path):
    """kill -9 in the middle of an ingest, then rerun: same dataset as one clean run."""
    folder = tmp_path / "many"
    folder.mkdir()
    names = sorted(p.name for p in replays_dir.glob("*.slp"))[:60]
    for name in names:
        (folder / name).symlink_to(replays_dir / name)
    clean = tmp_path / "clean"
    ingest([str(folder)], clean, workers=1, chunk_games=4)

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "dreamland.cli", "ingest", str(folder), "--out", str(out),
           "--workers", "1", "--chunk-games", "4", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        parts = out / "parts"
        if parts.is_dir() and len(list(parts.iterdir())) >= 2:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    published = len(list((out / "parts").iterdir()))
    assert 0 < published < 15, "the kill must land mid-run for this test to mean anything"
    # whatever was published is complete and readable
    for batch in (out / "parts").iterdir():
        assert {p.name for p in batch.iterdir()} == {"games.parquet", "players.parquet", "items.parquet"}
    ingest([str(folder)], out, workers=2, chunk_games=4)
    left = [p.name for p in (out / "_tmp").iterdir() if not p.name.endswith(".lock")]  # locks stay
    assert not left, "stale work of the killed run is cleaned up"
    assert_same_dataset(clean, out)


def run_cli(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "dreamland.cli", *args],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_missing_source_is_one_line_error(tmp_path):
    code, out, err = run_cli("ingest", str(tmp_path / "nope"), "--out", str(tmp_path / "ds"))
    assert code == 2
    assert err.strip().count("\n") == 0 and "no such file or folder" in err
    assert "Traceback" not in err


def test_empty_source_is_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    code, _, err = run_cli("ingest", str(tmp_path / "empty"), "--out", str(tmp_path / "ds"))
    assert code == 2 and "no replays found" in err and "Traceback" not in err


def test_non_replay_file_argument_is_refused(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    code, _, err = run_cli("ingest", str(f), "--out", str(tmp_path / "ds"))
    assert code == 2 and "not a .slp replay" in err


def test_out_folder_that_is_not_a_dataset_is_refused(subset, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "precious.txt").write_text("do not touch")
    code, _, err = run_cli("ingest", str(subset), "--out", str(other))
    assert code == 2 and "not a dreamland dataset" in err
    assert (other / "precious.txt").read_text() == "do not touch"


def test_corrupt_archive_is_counted_not_fatal(subset, tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    out = tmp_path / "ds"
    summary = ingest([str(bad), str(subset)], out, workers=1)
    assert summary.statuses["ok"] == 5
    assert any("broken.zip" in e for e in summary.archive_errors)


def test_bad_shard_and_workers_arguments(tmp_path, subset):
    for bad in (["--shard", "2/2"], ["--shard", "x"], ["--workers", "0"]):
        code, _, err = run_cli("ingest", str(subset), "--out", str(tmp_path / "ds"), *bad)
        assert code == 2 and "Traceback" not in err, bad


def test_stats_json_and_text(loose, capsys):
    assert main(["stats", str(loose), "--json"]) == 0
    import json

    stats = json.loads(capsys.readouterr().out)
    for key in ("games_ok", "games_failed", "frames", "failures_by_reason"):
        assert key in stats
    assert stats["games_ok"] == 5 and stats["games_failed"] == 2
    assert sum(stats["failures_by_reason"].values()) == 2
    assert main(["stats", str(loose)]) == 0
    text = capsys.readouterr().out
    assert "games ok" in text and "Final Destination" in text


def test_stats_on_missing_dataset(tmp_path):
    code, _, err = run_cli("stats", str(tmp_path / "nothing"))
    assert code == 2 and "no such dataset" in err and "Traceback" not in err


def test_only_eligible_filter(subset, tmp_path):
    out = tmp_path / "ds"
    summary = ingest([str(subset)], out, workers=1, filters=Filters(only_eligible=True))
    rows = Dataset(out).manifest().to_pylist()
    assert all(r["eligible"] for r in rows if r["status"] == "ok")
    assert summary.statuses["filtered"] >= 1
    assert all(r["reason"].startswith("not eligible") for r in rows if r["status"] == "filtered")


def test_ingest_cli_end_to_end(subset, tmp_path):
    out = tmp_path / "ds"
    code, stdout, err = run_cli("ingest", str(subset), "--out", str(out), "--workers", "2")
    assert code == 0, err
    assert "5 ok, 2 failed" in stdout
    assert os.path.isfile(out / "dataset.json")
