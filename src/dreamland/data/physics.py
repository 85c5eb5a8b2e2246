"""Count each character's frame-to-frame physics constants from real games in a store.

Melee moves a character by per-character constants (gravity, terminal velocity, ground and air
friction) on most frames: the most common change of a velocity between two frames *is* the
constant. `count_physics` reads them off a packed store; the table the model uses
(`schema/physics.py`) was printed by

    python -m dreamland.data.physics data/all-store

over every game the project holds, and tests/data/test_physics.py counts the test corpus again
and checks that it finds the same values.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np

from dreamland.data import layout
from dreamland.data.store import Store, StoreError
from dreamland.schema.physics import Physics

# fewer frame pairs than this and a character's mode is not trusted
MIN_PAIRS = 500
_REAL = layout.PLAYER_GROUPS[0].names
_SMALL = layout.PLAYER_GROUPS[1].names


def _mode(values: np.ndarray) -> float | None:
    if len(values) < MIN_PAIRS:
        return None
    u, c = np.unique(np.round(values, 4), return_counts=True)
    return round(float(u[np.argmax(c)]), 4)


def _pairs(store: Store, games: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per internal character id: (real at t, real at t+1, airborne at t, airborne at t+1)."""
    real, small = store["player_real"], store["player_small"]
    c_char, c_air = _SMALL.index("character"), _SMALL.index("airborne")
    acc: dict[int, list] = defaultdict(list)
    for g in games:
        a, b = int(store.start[g]), int(store.start[g] + store.length[g])
        r, s = np.asarray(real[a:b]), np.asarray(small[a:b])
        for p in range(2):
            air = s[:, p, c_air] > 0
            acc[int(s[0, p, c_char])].append((r[:-1, p], r[1:, p], air[:-1], air[1:]))
    return {ch: tuple(np.concatenate(x) for x in zip(*parts)) for ch, parts in acc.items()}


def count_physics(store: Store) -> dict[int, Physics]:
    """Per internal character id with enough frames among the games that recorded velocities."""
    present = store.present()
    games = np.flatnonzero(present[:, layout.PRESENT_FIELDS.index("vel_y")] > 0)
    col = _REAL.index
    out = {}
    for ch, (r0, r1, a0, a1) in sorted(_pairs(store, games).items()):
        air, ground = a0 & a1, ~a0 & ~a1
        vy0, vy1 = r0[:, col("vel_y")], r1[:, col("vel_y")]
        dvy = vy1 - vy0
        gravity = _mode(dvy[air & (dvy < 0) & (dvy > -0.5)])
        terminal = _mode(vy1[air & (dvy == 0) & (vy1 < -0.5)])
        frictions = []
        for name, both in (("vel_ground_x", ground), ("vel_air_x", air)):
            v0, v1 = np.abs(r0[:, col(name)]), np.abs(r1[:, col(name)])
            slowed = both & (v1 < v0) & (v1 > 0)
            frictions.append(_mode(v0[slowed] - v1[slowed]))
        if None in (gravity, terminal, *frictions):
            continue
        out[ch] = Physics(-gravity, -terminal, *frictions)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Print the per-character physics constants counted from a store.")
    ap.add_argument("store", help="a packed store (dreamland pack)")
    args = ap.parse_args(argv)
    try:
        store = Store(args.store)
    except StoreError as exc:
        raise SystemExit(f"dreamland.data.physics: error: {exc}") from None
    for ch, p in count_physics(store).items():
        print(f"    {ch}: Physics({p.gravity!r}, {p.terminal!r}, {p.ground_friction!r}, {p.air_friction!r}),")


if __name__ == "__main__":
    main()
