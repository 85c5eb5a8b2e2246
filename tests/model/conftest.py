"""Fixtures of the model tests: real windows from the five-game store, and a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dreamland.data.encoding import to_torch
from dreamland.data.windows import Gather
from dreamland.model.config import preset
from dreamland.model.world import WorldModel

WINDOW = 40  # frames per window in these tests


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The model tests use small tensors: one intra-op thread avoids OpenMP barrier stalls
    (hundreds of ms) when the machine is busy with other processes."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def real_window(small_store) -> dict[str, torch.Tensor]:
    """Three windows of WINDOW real frames (store values as torch tensors), from three games,
    chosen mid-game where items exist (turnips, lasers, Shy Guys) when a game has any, and one
    from the Ice Climbers game so followers are present."""
    s = small_store
    gather, probe = Gather(s, WINDOW), Gather(s, 1)
    scored = []
    for g in range(len(s.start)):
        first = int(s.start[g]) + 600
        last = int(s.start[g] + s.length[g]) - WINDOW - 1
        cand = np.arange(first, last, 11)
        b = probe(cand, np.full(len(cand), g))
        items = b["item_exists"][:, 0].sum(-1)
        followers = int(b["follower_exists"].any())
        i = int(np.argmax(items)) if items.max() > 0 else len(cand) // 2
        scored.append((followers, int(items[i] > 0), g, int(cand[i])))
    scored.sort(reverse=True)  # a window with followers first, then windows with items
    starts = np.array([c for *_, c in scored[:3]])
    games = np.array([g for _, _, g, _ in scored[:3]])
    return to_torch(gather(starts, games))


def make_tiny(seed: int = 0, **overrides) -> WorldModel:
    """The tiny preset with every parameter perturbed (so no term is silently zero or one)."""
    torch.manual_seed(seed)
    model = WorldModel(preset("tiny", **overrides))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


@pytest.fixture()
def tiny_model() -> WorldModel:
    return make_tiny()


@pytest.fixture(scope="session")
def action_table(small_store):
    """The action table counted over the five test games, in a model's action vocabulary."""
    from dreamland.data.action_table import ActionTable
    from dreamland.schema.actions import UNKNOWN_ACTION

    return ActionTable.count(small_store, np.arange(len(small_store.start)), top=UNKNOWN_ACTION)


def make_tiny_lookup(table, seed: int = 0, **overrides) -> WorldModel:
    """`make_tiny` with the action table as the start of the action head, filled from `table`."""
    model = make_tiny(seed, action_lookup=True, lookup_keys=len(table.keys),
                      lookup_back_keys=len(table.back_keys), **overrides)
    model.lookup.fill(table)
    return model
