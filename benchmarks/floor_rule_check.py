"""How often real games break the rules layer's floor rule (model/rules.py, docs/model.md).

The rule: a living character that is free (not grabbed, thrown or captured) and over the middle
`FLOOR_SPAN` of a legal stage's main floor does not pass from above `-FLOOR_DIP` to below it in one
frame (such a fall is decoded as a landing). This counts, per legal stage, the real frame-to-frame
transitions the rule covers and how many of them it would change, and how far real characters over
the floor dip below it (landings dip a few units for a frame or two):

    python benchmarks/floor_rule_check.py data/all-store
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import numpy as np

from dreamland.data import layout
from dreamland.data.store import Store, StoreError
from dreamland.model.rules import FLOOR_DIP, FLOOR_SPAN
from dreamland.schema import actions as A
from dreamland.schema.stages import LEGAL_STAGES_EXTERNAL, geometry

_REAL, _WIDE = layout.PLAYER_GROUPS[0].names, layout.PLAYER_GROUPS[2].names


def count(store: Store) -> dict[str, list[int]]:
    """Per stage name: [covered transitions, changed by the rule, frames over the floor below it by > 1, > 5]."""
    stages = store.index["stage"].to_numpy()
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for g in range(len(store.start)):
        if int(stages[g]) not in LEGAL_STAGES_EXTERNAL:
            continue
        geo = geometry(int(stages[g]))
        a, b = int(store.start[g]), int(store.start[g] + store.length[g])
        real, wide = np.asarray(store["player_real"][a:b]), np.asarray(store["player_wide"][a:b])
        x, y = real[..., _REAL.index("x")], real[..., _REAL.index("y")]
        act = np.minimum(wide[..., _WIDE.index("action")], A.UNKNOWN_ACTION)
        free = ~np.asarray(A.is_dead(act), bool) & ~np.asarray(A.is_held(act), bool)
        over = np.abs(x) <= FLOOR_SPAN * geo.ground_x
        covered = free[1:] & over[1:] & (y[:-1] >= -FLOOR_DIP)
        row = out[geo.name]
        row[0] += int(covered.sum())
        row[1] += int((covered & (y[1:] < -FLOOR_DIP)).sum())
        row[2] += int((free & over & (y < -1)).sum())
        row[3] += int((free & over & (y < -5)).sum())
    return dict(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", help="a packed store (dreamland pack)")
    args = ap.parse_args(argv)
    try:
        store = Store(args.store)
    except StoreError as exc:
        sys.exit(f"error: {exc}")
    print(f"floor rule: FLOOR_DIP {FLOOR_DIP}, FLOOR_SPAN {FLOOR_SPAN}")
    print(f"{'stage':<22}{'covered':>12}{'changed':>9}{'rate':>10}{'below 1':>10}{'below 5':>10}")
    total = [0, 0, 0, 0]
    for name, row in sorted(count(store).items()):
        total = [t + r for t, r in zip(total, row)]
        print(f"{name:<22}{row[0]:>12,}{row[1]:>9,}{row[1] / max(row[0], 1):>10.1e}{row[2]:>10,}{row[3]:>10,}")
    print(f"{'all':<22}{total[0]:>12,}{total[1]:>9,}{total[1] / max(total[0], 1):>10.1e}{total[2]:>10,}{total[3]:>10,}")


if __name__ == "__main__":
    main()
