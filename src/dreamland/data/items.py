"""Item slots: a fixed number per frame, each following one item instance for its whole life.

The model sees items as `MAX_ITEM_SLOTS` slots per frame. An item takes the lowest free slot when it
appears (by its spawn id) and keeps it until it disappears, so a slot's values form one continuous
trajectory the model can predict. When every slot is taken, a new item gets no slot (`NO_SLOT`) for
its whole life rather than stealing one; the pack summary counts such records. In the replays of
this project at most 13 items existed at once (a 4-player Yoshi's Story game full of Shy Guys); a 1v1
rarely has more than 6.
"""

from __future__ import annotations

import heapq

import numpy as np

MAX_ITEM_SLOTS = 16
NO_SLOT = 255


def assign_slots(frame: np.ndarray, item_id: np.ndarray, n_slots: int = MAX_ITEM_SLOTS) -> np.ndarray:
    """Slot of every item record of one game. `frame` must be non-decreasing."""
    n = len(frame)
    slots = np.full(n, NO_SLOT, np.uint8)
    if n == 0:
        return slots
    if np.any(np.diff(frame) < 0):
        raise ValueError("item records must be ordered by frame")
    starts = np.flatnonzero(np.r_[True, frame[1:] != frame[:-1]])
    ends = np.r_[starts[1:], n]
    live: dict[int, int] = {}  # item id -> slot
    unslotted: set[int] = set()
    free = list(range(n_slots))
    heapq.heapify(free)
    previous_frame = None
    for a, b in zip(starts, ends):
        ids = item_id[a:b].tolist()
        present = set(ids)
        if previous_frame is not None and frame[a] != previous_frame + 1:
            present = set()  # a gap: everything that was live has gone
        for gone in [i for i in live if i not in present]:
            heapq.heappush(free, live.pop(gone))
        unslotted &= present
        present = set(ids)
        out = []
        for i in ids:
            slot = live.get(i)
            if slot is None and i not in unslotted:
                if free:
                    slot = live[i] = heapq.heappop(free)
                else:
                    unslotted.add(i)
            out.append(NO_SLOT if slot is None else slot)
        slots[a:b] = out
        previous_frame = frame[a]
    return slots
