"""The packed store holds exactly what the dataset holds, and refuses what it cannot use."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow.compute as pc
import pytest

from dreamland.data import layout
from dreamland.data.store import SplitSpec, Store, StoreError, pack, split_key
from dreamland.data.windows import whole_game
from dreamland.replay.dataset import Dataset


def test_store_matches_dataset(small_store, small_dataset):
    """Every stored value equals the Parquet value (read independently through the dataset)."""
    ds = Dataset(small_dataset)
    index = small_store.index.to_pylist()
    assert len(index) == 5
    for g, row in enumerate(index):
        players = ds.players(row["game_id"])
        start, n = row["start"], row["length"]
        for slot, port in enumerate(row["ports"]):
            ref = players.filter(pc.and_(pc.equal(players["port"], port), pc.invert(players["follower"])))
            assert ref.num_rows == n
            np.testing.assert_array_equal(small_store["frame_id"][start:start + n], ref["frame"].to_numpy())
            real = small_store["player_real"][start:start + n, slot]
            for j, f in enumerate(layout.PLAYER_GROUPS[0].fields):
                expected = np.nan_to_num(ref[f.name].fill_null(0).to_numpy().astype(np.float32))
                np.testing.assert_array_equal(real[:, j], expected, err_msg=f.name)
            action = small_store["player_wide"][start:start + n, slot, 0]
            np.testing.assert_array_equal(action, ref["action"].to_numpy())
            small = small_store["player_small"][start:start + n, slot]
            names = layout.PLAYER_GROUPS[1].names
            np.testing.assert_array_equal(small[:, names.index("stocks")], ref["stocks"].to_numpy())
            facing = ref["facing"].to_numpy()
            np.testing.assert_array_equal(small[:, names.index("facing")], (facing > 0).astype(np.uint8))
            sticks = small_store["controller_sticks"][start:start + n, slot, 0].astype(np.float32)
            np.testing.assert_allclose(sticks, ref["stick_x"].to_numpy(), atol=5e-4)
        items = ds.items(row["game_id"])
        assert row["item_records"] == items.num_rows
        a, b = small_store["item_start"][start], small_store["item_start"][start + n]
        assert b - a == items.num_rows
        x_col = layout.ITEM_GROUPS[0].index("x")
        np.testing.assert_array_equal(small_store["item_real"][a:b, x_col], items["x"].to_numpy())


def test_last_hit_by_becomes_player_relative(small_store, small_dataset):
    ds = Dataset(small_dataset)
    row = small_store.index.to_pylist()[0]
    players = ds.players(row["game_id"])
    col = layout.PLAYER_GROUPS[1].index("last_hit_by")
    for slot, port in enumerate(row["ports"]):
        ref = players.filter(pc.and_(pc.equal(players["port"], port), pc.invert(players["follower"])))
        raw = ref["last_hit_by"].to_numpy()
        stored = small_store["player_small"][row["start"]:row["start"] + row["length"], slot, col]
        other = row["ports"][1 - slot] - 1
        assert np.all(stored[raw == other] == 1 - slot)
        assert np.all(stored[(raw != other) & (raw != port - 1)] == layout.PORT_NONE)


def test_followers_only_for_ice_climbers(small_store):
    idx = small_store.index.to_pylist()
    ic = [r for r in idx if max(r["follower_start"]) >= 0]
    assert len(ic) == 1  # one Ice Climbers game in the fixture
    r = ic[0]
    slot = r["characters"].index(10)  # Popo leads the Ice Climbers
    assert r["follower_start"][1 - slot] == -1
    # Nana has rows of her own for that player only: no bytes spent on the other player
    assert small_store["follower_exists"].shape == (r["length"],)
    names = layout.PLAYER_GROUPS[1].names
    chars = small_store["follower_small"][:, names.index("character")]
    alive = small_store["follower_exists"] == 1
    assert alive.mean() > 0.5 and set(np.unique(chars[alive])) == {11}  # Nana
    batch = whole_game(small_store, idx.index(r))
    assert not batch["follower_exists"][0, :, 1 - slot].any()
    np.testing.assert_array_equal(batch["follower_exists"][0, :, slot], small_store["follower_exists"])


def test_bytes_per_frame(small_store):
    """Arithmetic of the layout: every frame costs the same fixed bytes; followers and items only
    what they hold (the corpus-wide figure is in benchmarks/bench_windows.py)."""
    per_frame = sum(
        small_store[n].dtype.itemsize * int(np.prod(small_store[n].shape[1:]))
        for n in small_store._arrays if n.startswith(("player_", "controller_", "frame_id", "item_start"))
    )
    meta = small_store.meta["summary"]
    per_record = sum(small_store[n].dtype.itemsize * int(np.prod(small_store[n].shape[1:]))
                     for n in small_store._arrays if n.startswith("item_") and n != "item_start")
    per_follower = sum(small_store[n].dtype.itemsize * int(np.prod(small_store[n].shape[1:]))
                       for n in small_store._arrays if n.startswith("follower_"))
    arrays = (per_frame * meta["frames"] + per_record * meta["item_records"]
              + per_follower * meta["follower_frames"])
    npy = sum(p.stat().st_size for p in small_store.path.glob("*.npy"))
    assert arrays <= npy <= arrays + 128 * 20  # .npy headers only
    assert per_frame <= 180  # leaves 20 of the 200-byte budget for items and followers


def test_splits_are_stable_and_disjoint(small_store):
    spec = SplitSpec(fractions=(0.4, 0.3, 0.3))
    parts = [set(small_store.games_in(s, spec, eligible_only=False)) for s in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == len(small_store)
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    keys = small_store.index["split_key"].to_numpy()
    ids = small_store.index["game_id"].to_pylist()
    # The key is a pure function of the game id, so every machine agrees.
    assert all(split_key(i) == k for i, k in zip(ids, keys))
    assert all(0 <= k < 1 for k in keys)


def test_heldout_character_and_stage(small_store):
    chars = small_store.index["characters"].to_pylist()
    falco = 22  # internal id
    spec = SplitSpec(fractions=(1.0, 0.0, 0.0), heldout_characters=frozenset({falco}))
    held = small_store.games_in("heldout", spec, eligible_only=False)
    assert set(held) == {i for i, c in enumerate(chars) if falco in c}
    assert not set(held) & set(small_store.games_in("train", spec, eligible_only=False))
    spec = SplitSpec(fractions=(1.0, 0.0, 0.0), heldout_stages=frozenset({32}))
    held = small_store.games_in("heldout", spec, eligible_only=False)
    assert set(held) == set(np.flatnonzero(small_store.index["stage"].to_numpy() == 32))


def test_bad_split_fractions():
    with pytest.raises(StoreError, match="add up to 1"):
        SplitSpec(fractions=(0.5, 0.1, 0.1))


def test_opening_is_lazy(small_store):
    for name in ("player_real", "item_real", "controller_sticks"):
        arr = small_store[name]
        assert not arr.flags.writeable and not arr.flags.owndata  # a read-only view of the map


def test_resident_memory_flat_when_opening(small_store):
    """Opening reads headers and the index only: RSS grows by far less than the arrays' size."""
    code = (
        "import psutil, sys; from dreamland.data.store import Store; p = psutil.Process();"
        "Store(sys.argv[1]); before = p.memory_info().rss;"  # the first open pays for imports
        "kept = [Store(sys.argv[1]) for _ in range(5)];"
        "print(p.memory_info().rss - before)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(small_store.path)], capture_output=True,
                         text=True, check=True)
    grew = int(out.stdout.strip().splitlines()[-1])
    size = sum(p.stat().st_size for p in small_store.path.glob("*.npy"))
    assert grew < size / 4, (grew, size)  # five opens would cost 5x the arrays if they were read


def test_missing_store(tmp_path):
    with pytest.raises(StoreError, match="no such store"):
        Store(tmp_path / "nope")


def test_store_from_another_schema_is_refused(small_store, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small_store.path, copy)
    meta = json.loads((copy / "store.json").read_text())
    meta["schema_fingerprint"] = "0000000000000000"
    (copy / "store.json").write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="schema"):
        Store(copy)


def test_damaged_store_is_refused(small_store, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(small_store.path, copy)
    (copy / "frame_id.npy").write_bytes(b"garbage")
    with pytest.raises(StoreError, match="damaged"):
        Store(copy)


def test_pack_refuses_existing_folder(small_dataset, small_store):
    with pytest.raises(StoreError, match="already exists"):
        pack(small_dataset, small_store.path)


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "dreamland.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_errors_are_one_line(small_store, tmp_path):
    cases = [
        (["store", str(tmp_path / "missing")], "no such store"),
        (["store", str(small_store.path), "--context", "100000", "--split", "train",
          "--all-games", "--split-fractions", "1,0,0"], "longer than every game"),
        (["store", str(small_store.path), "--context", "10", "--split", "val",
          "--split-fractions", "1,0,0"], "split is empty"),
        (["store", str(small_store.path), "--split-fractions", "0.5,0.5"], "three numbers"),
        (["pack", str(tmp_path / "nodata"), "--out", str(tmp_path / "s")], "no such dataset"),
    ]
    for args, message in cases:
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr


def small_store_lengths(path):
    return Store(path).length.tolist()


def test_cli_pack_and_store(small_dataset, tmp_path):
    out = tmp_path / "s"
    proc = run_cli("pack", str(small_dataset), "--out", str(out), "--json", "-q")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["games"] == 5 and summary["frames"] == sum(small_store_lengths(out))
    proc = run_cli("store", str(out), "--context", "60", "--all-games", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["games"] == 5
    assert sum(s["games"] for s in report["splits"].values()) == 5


def test_slippi_version_parses_and_orders():
    from dreamland.data.store import slippi_version

    assert slippi_version("3.14.0") == (3, 14, 0)
    assert slippi_version("1.7.1") < slippi_version("2.0.1") < slippi_version("3.0.0") < slippi_version("3.14.0")
    assert slippi_version("3.9.0") < slippi_version("3.14.0")  # numbers, not text
    assert slippi_version(None) is None and slippi_version("new") is None and slippi_version("") is None


def test_train_games_by_slippi_version(small_store):
    from dreamland.data.store import StoreError, slippi_version

    games = small_store.games_in("all")
    versions = small_store.index["slippi_version"].to_pylist()
    newest = max(slippi_version(versions[g]) for g in games)
    least = ".".join(map(str, newest))
    kept = small_store.recorded_since(games, least)
    assert len(kept) >= 1
    assert all(slippi_version(versions[g]) == newest for g in kept)
    assert list(small_store.recorded_since(games, "0.0.0")) == list(games)
    assert len(small_store.recorded_since(games, "99.0.0")) == 0
    with pytest.raises(StoreError, match="not a Slippi version"):
        small_store.recorded_since(games, "three")
