"""Ingest of the whole real test corpus (../shared/replays), checked against independent readers.

The checks of named files run on `named_dataset`: the corpus's ingest when it is there, else the
replays of tests/fixtures/replays (a file they lack is skipped, or replaced by its stand-in)."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from dreamland.replay.dataset import Dataset
from tests.conftest import corpus_or_stand_ins


def _manifest(corpus_dataset):
    out, _ = corpus_dataset
    return Dataset(out).manifest().to_pylist()


def _by_file(corpus_dataset) -> dict[str, dict]:
    return {r["source"].rsplit("/", 1)[-1]: r for r in _manifest(corpus_dataset)}


def test_every_file_gets_a_manifest_row(corpus_dataset, replays_dir):
    rows = _by_file(corpus_dataset)
    files = sorted(p.name for p in replays_dir.glob("*.slp"))
    assert len(files) == 174
    assert sorted(rows) == files
    statuses = {r["status"] for r in rows.values()}
    assert statuses <= {"ok", "failed"}


def test_ok_count_at_least_what_peppi_reads(corpus_dataset, inventory):
    rows = _by_file(corpus_dataset)
    ok = {f for f, r in rows.items() if r["status"] == "ok"}
    peppi_ok = {f for f, r in inventory.items() if r["parse_ok"] == "ok"}
    assert len(peppi_ok) == 147
    assert peppi_ok <= ok, f"peppi reads but we fail: {sorted(peppi_ok - ok)}"
    # vladfi's fork reads the 3.0-3.6 replays that upstream peppi-py panics on.
    assert "altf4_libmelee__test_artifacts_test_game_1.slp" in ok


def test_failures_have_reasons(corpus_dataset, inventory):
    rows = _by_file(corpus_dataset)
    failed = {f: r for f, r in rows.items() if r["status"] == "failed"}
    assert failed, "the corpus holds broken files; some must fail"
    for f, r in failed.items():
        assert r["reason"] and r["detail"], f
        # Nothing a parser can read is marked failed.
        assert inventory[f]["peppi_py_vladfi_0.9.2"] != "ok", f
    reasons = {r["reason"] for r in failed.values()}
    assert "not a replay" in reasons  # the text file, the PNG and the HTML page
    text = rows["altf4_libmelee__test_artifacts_corrupt_game_1.slp"]
    assert text["status"] == "failed" and text["reason"] == "not a replay"


def test_summary_counts_match_manifest(corpus_dataset):
    _, summary = corpus_dataset
    rows = _manifest(corpus_dataset)
    assert summary.statuses["ok"] == sum(r["status"] == "ok" for r in rows)
    assert summary.statuses["failed"] == sum(r["status"] == "failed" for r in rows)
    assert sum(summary.failures_by_reason.values()) == summary.statuses["failed"]
    assert summary.frames == sum(r["frames"] for r in rows if r["status"] == "ok")


def test_manifest_facts_match_inventory(corpus_dataset, inventory):
    for f, r in _by_file(corpus_dataset).items():
        inv = inventory[f]
        if r["status"] != "ok" or inv["parse_ok"] != "ok":
            continue
        assert r["slippi_version"] == inv["slippi_version"], f
        assert r["stage"] == int(inv["stage_id"]), f
        assert r["frame_rows"] == int(inv["frame_rows"]), f
        if r["first_frame"] != -123:
            # Training mode repeats one frame id and slo-mo starts elsewhere: kept row for row.
            assert r["frames"] == r["frame_rows"] and not r["eligible"], f
            assert "unusual frame ids" in r["ineligible_reason"], f
            continue
        assert r["frames"] == int(inv["unique_frame_ids"]), f
        assert r["rollbacks"] == int(inv["frame_rows"]) - int(inv["unique_frame_ids"]), f
        assert r["item_records"] <= int(inv["item_records"] or 0), f
        inv_types = [t.split(":")[1] for t in inv["player_types"].split(";")]
        assert r["player_types"] == inv_types, f
        assert r["end_method"] == (inv["end_method"] or None if "none" not in inv["end_method"] else None), f


def test_game_id_is_sha256_of_bytes(corpus_dataset, replays_dir):
    import csv
    import hashlib

    with open(replays_dir / "SOURCES.tsv", newline="") as fh:
        sha = {row["file"]: row["sha256"] for row in csv.DictReader(fh, delimiter="\t")}
    rows = _by_file(corpus_dataset)
    for f in list(rows)[:20]:
        assert rows[f]["game_id"] == sha[f]
    one = "Gaurav-Iyer_stockfox__test.slp"
    assert rows[one]["game_id"] == hashlib.sha256((replays_dir / one).read_bytes()).hexdigest()


def test_eligibility(corpus_dataset):
    rows = _by_file(corpus_dataset)
    eligible = [r for r in rows.values() if r["status"] == "ok" and r["eligible"]]
    assert eligible
    for r in eligible:
        assert r["player_types"] == ["HUMAN", "HUMAN"]
        assert r["frames"] >= 3600
        assert r["end_method"] in {"GAME", "TIME", "RESOLVED"}
        assert r["ineligible_reason"] is None
    four = rows["PMcca_go-slippi__slippi_test_replays_4-players.slp"]
    assert not four["eligible"] and "4 players" in four["ineligible_reason"]


def test_rollback_keeps_last_version(named_dataset, replay_file):
    """The finalized frame is the last row of each id: recomputed here with a plain dict."""
    from peppi_py._peppi import read_slippi

    name = "Walnut356_SlippiStats__Modern_Replays_Game_20221227T202334.slp"  # 3053 rollback rows
    path = replay_file(name)
    out, _ = named_dataset
    ds = Dataset(out)
    row = _by_file(named_dataset)[name]
    players = ds.players(row["game_id"])
    raw = read_slippi(str(path), False).frames
    ids = raw.field("id").to_pylist()
    xs = pc.struct_field(raw, ["ports", "P1", "leader", "post", "position", "x"]).to_pylist()
    last: dict[int, float] = {}
    for i, x in zip(ids, xs):
        last[i] = x
    p1 = players.filter(pc.and_(pc.equal(players["port"], 1), pc.invert(players["follower"])))
    assert p1["frame"].to_pylist() == sorted(last)
    assert p1["x"].to_pylist() == [last[i] for i in sorted(last)]
    assert len(ids) - len(last) == row["rollbacks"] == 3053


def test_followers_are_rows_of_their_own(corpus_dataset):
    out, _ = corpus_dataset
    ds = Dataset(out)
    games = [r for r in _manifest(corpus_dataset) if r["status"] == "ok" and any(r["has_follower"])]
    assert len(games) == 7  # the corpus README lists 7 files with Nana data
    for r in games:
        players = ds.players(r["game_id"])
        nana = players.filter(players["follower"])
        assert nana.num_rows == r["frames"] * sum(r["has_follower"])
        chars = set(nana["character"].drop_null().to_pylist())
        assert chars == {11}, (r["source"], chars)  # Nana's internal id
        leaders = players.filter(pc.invert(players["follower"]))
        assert leaders.num_rows == r["frames"] * len(r["ports"])


def test_items_match_vladfi(named_dataset, replay_file):
    import peppi_py

    name = "hohav_peppi__tests_data_items.slp"
    out, _ = named_dataset
    row = _by_file(named_dataset)[name]
    assert row["status"] == "ok"
    items = Dataset(out).items(row["game_id"])
    game = peppi_py.read_slippi(str(replay_file(name)), rollback_mode=peppi_py.parse.RollbackMode.LAST)
    ref = game.frames.items
    assert items.num_rows == len(ref.type.flatten()) > 0
    assert items["type"].to_pylist() == ref.type.flatten().to_pylist()
    assert items["item_id"].to_pylist() == ref.id.flatten().to_pylist()
    np.testing.assert_array_equal(
        items["x"].to_numpy(), ref.position.x.flatten().to_numpy()
    )
    # frame of each item record = the frame of the list it came from
    lengths = np.diff(ref.type.offsets.to_numpy())
    frame_ids = np.repeat(game.frames.id.to_numpy(), lengths)
    np.testing.assert_array_equal(items["frame"].to_numpy(), frame_ids)


ORACLE_FILES = corpus_or_stand_ins(
    "Gaurav-Iyer_stockfox__test.slp",  # 3.7, Peach turnips
    "PMcca_go-slippi__test_replays_metadata.slp",  # 3.13 netplay with rollback
    "Walnut356_SlippiStats__Modern_Replays_Game_20221227T212019.slp",  # Ice Climbers, rollback
    "dustinlapierre_Slippi_Parser__Game_20171221T170535.slp",  # 0.1.0
)


@pytest.mark.parametrize("name", ORACLE_FILES)
def test_values_match_py_slippi(named_dataset, replay_file, name):
    """py-slippi is an independent pure-Python parser: positions, percent, stocks and action
    states must agree frame by frame with what we stored."""
    from slippi import Game

    out, _ = named_dataset
    row = _by_file(named_dataset)[name]
    players = Dataset(out).players(row["game_id"])
    game = Game(str(replay_file(name)))
    assert len(game.frames) == row["frames"]
    for slot, port in enumerate(row["ports"]):
        mine = players.filter(pc.and_(pc.equal(players["port"], port), pc.invert(players["follower"])))
        assert mine["frame"].to_pylist() == [f.index for f in game.frames]
        ref = [f.ports[port - 1].leader.post for f in game.frames]
        np.testing.assert_array_equal(mine["x"].to_numpy(), np.array([p.position.x for p in ref], np.float32))
        np.testing.assert_array_equal(mine["y"].to_numpy(), np.array([p.position.y for p in ref], np.float32))
        np.testing.assert_array_equal(mine["percent"].to_numpy(), np.array([p.damage for p in ref], np.float32))
        assert mine["stocks"].to_pylist() == [p.stocks for p in ref]
        assert mine["action"].to_pylist() == [int(p.state) for p in ref]
        pre = [f.ports[port - 1].leader.pre for f in game.frames]
        np.testing.assert_array_equal(mine["stick_x"].to_numpy(), np.array([p.joystick.x for p in pre], np.float32))
        if row["has_follower"][slot]:
            nana = players.filter(pc.and_(pc.equal(players["port"], port), players["follower"]))
            ref_f = [f.ports[port - 1].follower for f in game.frames]
            xs = [p.post.position.x if p is not None else None for p in ref_f]
            assert nana["x"].to_pylist() == [None if x is None else pytest.approx(x) for x in xs]


def test_duckdb_reads_the_dataset(named_dataset):
    duckdb = pytest.importorskip("duckdb")
    out, _ = named_dataset
    ds = Dataset(out)
    con = duckdb.connect()
    n_frames = con.execute(
        f"SELECT count(*) FROM '{ds.glob('players')}' WHERE port = 1 AND NOT follower"
    ).fetchone()[0]
    games = con.execute(
        f"SELECT count(*), sum(frames) FROM '{ds.glob('games')}' WHERE status = 'ok' AND 1 = ANY(ports)"
    ).fetchone()
    assert n_frames == games[1]
    joined = con.execute(
        f"SELECT g.stage, count(*) FROM '{ds.glob('players')}' p JOIN '{ds.glob('games')}' g "
        "USING (game_id) GROUP BY g.stage ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    assert joined[1] > 0
