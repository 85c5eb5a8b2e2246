"""Window sampling: boundaries, reproducibility, ranks, augmentation, items, whole games."""

from __future__ import annotations

import numpy as np
import pytest

from dreamland.data import layout
from dreamland.data.items import NO_SLOT, assign_slots
from dreamland.data.store import StoreError
from dreamland.data.windows import Augment, WindowSampler, whole_game


def all_games(store):
    return np.arange(len(store))


def test_windows_stay_inside_one_game_after_players_can_act(small_store):
    s = WindowSampler(small_store, all_games(small_store), context=60, batch_size=32, seed=3)
    starts, games = s.epoch_windows(0)
    end = starts + s.window - 1
    assert np.all(starts >= small_store.start[games])
    assert np.all(end < small_store.start[games] + small_store.length[games])
    first_frame = small_store["frame_id"][starts]
    assert first_frame.min() >= -39
    b = next(s.batches(0))
    fid = b["frame_id"]
    assert np.all(np.diff(fid, axis=1) == 1), "consecutive frames of one game"


def test_pregame_frames_only_when_asked(small_store):
    s = WindowSampler(small_store, all_games(small_store), 5, 8, include_pregame=True)
    starts, _ = s.epoch_windows(0)
    starts_all = np.concatenate([s.epoch_windows(e)[0] for e in range(30)])
    assert small_store["frame_id"][starts_all].min() < -39


def test_epoch_covers_frames_once(small_store):
    s = WindowSampler(small_store, all_games(small_store), 10, 16, seed=1)
    starts, games = s.epoch_windows(0)
    frames = (starts[:, None] + np.arange(s.window)).ravel()
    assert len(np.unique(frames)) == len(frames), "no frame twice in an epoch"
    usable = sum(int(n) for n in s.n_valid)
    assert len(frames) > 0.9 * usable


def test_reproducible_and_seeded(small_store):
    a = WindowSampler(small_store, all_games(small_store), 20, 8, seed=7)
    b = WindowSampler(small_store, all_games(small_store), 20, 8, seed=7)
    c = WindowSampler(small_store, all_games(small_store), 20, 8, seed=8)
    np.testing.assert_array_equal(a.epoch_windows(2)[0], b.epoch_windows(2)[0])
    assert not np.array_equal(a.epoch_windows(2)[0], c.epoch_windows(2)[0])
    assert not np.array_equal(a.epoch_windows(2)[0], a.epoch_windows(3)[0])


def test_ranks_see_disjoint_windows(small_store):
    ranks = [WindowSampler(small_store, all_games(small_store), 20, 8, seed=5, rank=r, world_size=3)
             for r in range(3)]
    seen = [set(r.epoch_windows(0)[0].tolist()) for r in ranks]
    assert all(len(x) == ranks[0].per_rank for x in seen)
    assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
    single = WindowSampler(small_store, all_games(small_store), 20, 8, seed=5)
    assert set().union(*seen) <= set(single.epoch_windows(0)[0].tolist())


def test_resume_mid_epoch_gives_the_same_batches(small_store):
    aug = Augment(swap_players=True, mirror=True)
    s = WindowSampler(small_store, all_games(small_store), 10, 4, seed=2, augment=aug)
    full = list(s.batches(1))
    resumed = list(s.batches(1, skip_batches=3))
    assert len(resumed) == len(full) - 3
    for a, b in zip(full[3:], resumed):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_context_longer_than_every_game(small_store):
    with pytest.raises(StoreError, match="longer than every game"):
        WindowSampler(small_store, all_games(small_store), 100_000, 4)


def test_empty_split(small_store):
    with pytest.raises(StoreError, match="empty"):
        WindowSampler(small_store, np.array([], dtype=np.int64), 10, 4)


def test_mirror_and_swap(small_store):
    base = WindowSampler(small_store, all_games(small_store), 10, 64, seed=4)
    b0 = next(base.batches(0))
    mirrored = WindowSampler(small_store, all_games(small_store), 10, 64, seed=4,
                             augment=Augment(mirror=True))
    b1 = next(mirrored.batches(0))
    x = layout.PLAYER_GROUPS[0].index("x")
    y = layout.PLAYER_GROUPS[0].index("y")
    flipped = np.flatnonzero(np.any(b0["player_real"][..., x] != b1["player_real"][..., x], axis=(1, 2)))
    assert 0 < len(flipped) < 64  # a coin flip per window
    np.testing.assert_array_equal(b1["player_real"][flipped][..., x], -b0["player_real"][flipped][..., x])
    np.testing.assert_array_equal(b1["player_real"][..., y], b0["player_real"][..., y])
    facing = layout.PLAYER_GROUPS[1].index("facing")
    np.testing.assert_array_equal(b1["player_small"][flipped][..., facing], 1 - b0["player_small"][flipped][..., facing])
    np.testing.assert_array_equal(b1["controller_sticks"][flipped][..., 0], -b0["controller_sticks"][flipped][..., 0])

    swapped = WindowSampler(small_store, all_games(small_store), 10, 64, seed=4,
                            augment=Augment(swap_players=True))
    b2 = next(swapped.batches(0))
    rows = np.flatnonzero(np.any(b2["characters"] != b0["characters"], axis=1))
    assert len(rows) > 0
    np.testing.assert_array_equal(b2["player_real"][rows], b0["player_real"][rows][:, :, ::-1])
    hit = layout.PLAYER_GROUPS[1].index("last_hit_by")
    v0, v2 = b0["player_small"][rows][..., ::-1, hit], b2["player_small"][rows][..., hit]
    np.testing.assert_array_equal(v2, np.where(v0 < 2, 1 - v0, v0))


def test_items_follow_their_instance(small_store):
    """Within a window, a slot holds one item instance: its position moves continuously."""
    idx = small_store.index.to_pylist()
    game = max(range(len(idx)), key=lambda i: idx[i]["item_records"])
    batch = whole_game(small_store, game)
    exists = batch["item_exists"][0]
    assert exists.sum() == idx[game]["item_records"]  # no record lost for lack of a slot
    x = batch["item_real"][0][..., layout.ITEM_GROUPS[0].index("x")]
    both = (exists[1:] == 1) & (exists[:-1] == 1)
    jumps = np.abs(x[1:] - x[:-1])[both]
    assert np.percentile(jumps, 99) < 20, "a slot does not jump between items"


def test_slot_assignment_rules():
    frame = np.array([0, 0, 1, 1, 2, 3, 3, 3])
    ident = np.array([10, 11, 10, 11, 11, 11, 12, 13])
    slots = assign_slots(frame, ident, n_slots=2)
    # 10 and 11 take slots 0 and 1; 10 dies at frame 2, 12 takes its slot; 13 finds none.
    assert slots.tolist() == [0, 1, 0, 1, 1, 1, 0, NO_SLOT]
    with pytest.raises(ValueError):
        assign_slots(np.array([1, 0]), np.array([1, 2]))


def test_whole_game_is_every_frame(small_store):
    b = whole_game(small_store, 0)
    n = int(small_store.length[0])
    assert b["frame_id"].shape == (1, n)
    assert b["frame_id"][0, 0] == -123


def _same_bytes(a: dict, b: dict) -> bool:
    """Bit for bit, so that -0.0 against 0.0 or a stale value in an empty slot counts."""
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes() for k in a)


def test_reused_arrays_give_the_batches_fresh_ones_give(small_store):
    """The gather refills the arrays of batches nobody holds; with augmentation moving followers and
    items about, every batch must still equal one gathered into fresh arrays."""
    aug = Augment(swap_players=True, mirror=True)
    reused = WindowSampler(small_store, all_games(small_store), 30, 16, seed=6, augment=aug)
    fresh = WindowSampler(small_store, all_games(small_store), 30, 16, seed=6, augment=aug)
    fresh.gather.reuse = False
    n, followers, items = 0, 0, 0
    for a, b in zip(reused.batches(0), fresh.batches(0)):
        assert _same_bytes(a, b), f"batch {n} differs"
        followers += int(b["follower_exists"].any(axis=(1, 2)).sum())
        items += int(b["item_exists"].sum())
        n += 1
    assert n > 20 and followers > 0 and items > 0, (n, followers, items)
    assert 1 <= len(reused.gather.pool) <= 2, "batches were refilled, not allocated each time"


def test_a_batch_that_is_held_is_never_refilled(small_store):
    import torch

    s = WindowSampler(small_store, all_games(small_store), 30, 16, seed=6)
    it = s.batches(0)
    kept = next(it)
    kept_copy = {k: v.copy() for k, v in kept.items()}
    tensor = torch.from_numpy(next(it)["item_real"])  # only a tensor holds the second batch
    tensor_copy = tensor.clone()
    for _ in range(10):
        next(it)
    assert _same_bytes(kept, kept_copy)
    assert torch.equal(tensor, tensor_copy)


def test_augmentation_leaves_missing_followers_and_empty_item_slots_all_zero(small_store):
    """What does not exist reads as zeros, swapped or mirrored or not (as in play and evaluation)."""
    aug = Augment(swap_players=True, mirror=True)
    s = WindowSampler(small_store, all_games(small_store), 30, 64, seed=6, augment=aug)
    for b in s.batches(0):
        for prefix, groups in (("follower_", layout.PLAYER_GROUPS), ("item_", layout.ITEM_GROUPS)):
            missing = b[prefix + "exists"] == 0
            assert missing.any()
            for g in groups:
                assert not b[prefix + g.name][missing].any(), f"{prefix}{g.name} of a missing entry"
