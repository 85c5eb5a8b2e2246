"""Does a model read the controls? Two checks behind the figures of docs/default-model.md.

    python benchmarks/controls_check.py [CHECKPOINT] --store STORE [--split val] [--json]

1. Real presses: every frame of the split where a standing player (action STANDING) presses X or Y
   after not pressing it, or pushes the main stick past 0.8 from below 0.3 (up to 4 of each per
   game, after at least K frames of the game). Teacher-forced over the K frames before, the model's
   probability of the action the game actually took next (KNEE_BEND for a jump, DASHING or
   TURNING for the stick), with the real input and with that input removed (button released,
   stick centred). A model that reads the input gives the first far more than the second.
2. How the replays themselves teach it: over the whole store, both players, the X/Y presses of a
   standing player by how long they had stood (state_age), beside the standing frames of each age.
3. How real games start: the actions and state_age of both players at each game's first
   actionable frame (what `play.core.SPAWN_HISTORY` imitates).
4. From the spawn points of `dreamland play`: for 4 stage/character pairs, 10 idle frames, then X
   held for 4 frames; does the character leave the ground (and rise 1 unit) within 8 frames?
   Run with a seed history of 1 frame (what `play` uses, `play.core.SPAWN_HISTORY`) and of K
   frames of standing still.

CHECKPOINT defaults to the model shipped with dreamland.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

PAIRS = (("final destination", ("fox", "fox")), ("battlefield", ("marth", "fox")),
         ("yoshi's story", ("falco", "sheik")), ("dreamland", ("peach", "jigglypuff")))


def real_presses(model, store, games, k: int) -> dict:
    from dreamland.data.encoding import encode
    from dreamland.data.windows import Gather
    from dreamland.model.heads import CHAR, split
    from dreamland.model.window import prepare_window
    from dreamland.data.frame import player_column
    from dreamland.schema.actions import Action
    from dreamland.schema.controller import BUTTON_BITS

    g, col = player_column("action")
    jump_bits = BUTTON_BITS["X"] | BUTTON_BITS["Y"]
    found: dict[str, list[int]] = {"jump": [], "stick": []}
    for game in games:
        a, n = int(store.start[game]), int(store.length[game])
        act = np.asarray(store[f"player_{g}"][a:a + n, 0, col])
        x = np.asarray(store["controller_sticks"][a:a + n, 0, 0]).astype(np.float32)
        b = np.asarray(store["controller_buttons"][a:a + n, 0, 0]).astype(np.int64)
        standing = act[:-1] == int(Action.STANDING)
        events = {"jump": standing & ((b[1:] & jump_bits) != 0) & ((b[:-1] & jump_bits) == 0),
                  "stick": standing & (np.abs(x[1:]) > 0.8) & (np.abs(x[:-1]) < 0.3)}
        for name, mask in events.items():
            found[name] += [a + i for i in np.flatnonzero(mask) if k + 5 < i < n - 10][:4]
    action = [CHAR.cat[j].name for j in CHAR.cat_pred].index("action")
    gather = Gather(store, k + 2)
    out = {}
    for name, frames in found.items():
        if not frames:
            continue
        starts = np.asarray(frames) - k + 1
        batch = {key: torch.from_numpy(np.ascontiguousarray(v))
                 for key, v in gather(starts, np.zeros(len(starts), np.int64)).items()}
        inputs, controllers, _ = prepare_window(encode(batch))
        removed = controllers.clone()
        if name == "jump":
            removed[:, k - 1, 0, 4:] = 0.0  # buttons and trigger released
        else:
            removed[:, k - 1, 0, 0] = 0.5  # main stick x centred
        real_next = batch[f"player_{g}"][:, k, 0, col].long()
        probs = []
        for c in (controllers, removed):
            with torch.no_grad():
                logits = split(CHAR, model(inputs, c)["char"]).cat[action][:, k - 1, 0]
            probs.append(float(logits.softmax(-1)[torch.arange(len(real_next)), real_next].mean()))
        out[name] = {"events": len(frames), "p_with_input": round(probs[0], 3), "p_input_removed": round(probs[1], 3)}
    return out


def jump_presses_by_stand_age(store) -> dict:
    from dreamland.data.frame import player_column
    from dreamland.schema.actions import Action
    from dreamland.schema.controller import BUTTON_BITS

    g, col = player_column("action")
    ga, ca = player_column("state_age")
    bits = BUTTON_BITS["X"] | BUTTON_BITS["Y"]
    out: dict = {}
    for lo, hi in ((0, 20), (20, 60), (60, 10**6)):
        presses = frames = 0
        for p in (0, 1):  # frames of adjacent games meet once per game boundary: negligible
            act = np.asarray(store[f"player_{g}"][:, p, col])
            age = np.asarray(store[f"player_{ga}"][:, p, ca])
            b = np.asarray(store["controller_buttons"][:, p, 0]).astype(np.int64)
            stand = (act[:-1] == int(Action.STANDING)) & (age[:-1] >= lo) & (age[:-1] < hi)
            presses += int((stand & ((b[1:] & bits) != 0) & ((b[:-1] & bits) == 0)).sum())
            frames += int(stand.sum())
        out[f"{lo}-{hi if hi < 10**6 else ''}"] = {"presses": presses, "standing_frames": frames}
    return out


def first_actionable(store) -> dict:
    from collections import Counter

    from dreamland.data.frame import player_column
    from dreamland.schema.actions import action_name

    g, col = player_column("action")
    ga, ca = player_column("state_age")
    offsets = store.index["actionable_offset"].to_numpy()
    actions, ages = Counter(), []
    for game in range(len(store)):
        i = int(store.start[game]) + max(0, int(offsets[game]))
        for p in (0, 1):
            actions[action_name(int(store[f"player_{g}"][i, p, col]))] += 1
            ages.append(float(store[f"player_{ga}"][i, p, ca]))
    return {"players": len(ages), "actions": dict(actions.most_common(3)), "median_state_age": float(np.median(ages))}


def spawn_jumps(checkpoint, history: int) -> list[bool]:
    from dreamland.play import Controller, Session
    from dreamland.play import core

    jumped = []
    default, core.SPAWN_HISTORY = core.SPAWN_HISTORY, history  # the seed length of a spawn reset
    try:
        for stage, characters in PAIRS:
            jumped.append(_jumps(Session(checkpoint, stage, characters), Controller))
    finally:
        core.SPAWN_HISTORY = default
    return jumped


def _jumps(s, Controller) -> bool:
    """10 idle frames, X held for 4: off the ground and 1 unit up within 8 frames?"""
    st = s.reset()
    y0 = st.players[0].y
    for _ in range(10):
        st = s.step()
    for i in range(8):
        st = s.step(Controller().press_button("X") if i < 4 else None)
        if not st.players[0].on_ground and st.players[0].y > y0 + 1:
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=None)
    parser.add_argument("--store", required=True)
    parser.add_argument("--split", default="val")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from dreamland.data.store import Store
    from dreamland.model.checkpoint import default_checkpoint
    from dreamland.steppers.load import load_stepper

    torch.set_num_threads(1)
    checkpoint = args.checkpoint or str(default_checkpoint())
    stepper = load_stepper(checkpoint)
    store = Store(args.store)
    k = int(stepper.context or 30)
    report = {
        "checkpoint": checkpoint,
        "real_presses": real_presses(stepper.model, store, store.games_in(args.split), k),
        "jump_presses_by_stand_age": jump_presses_by_stand_age(store),
        "first_actionable": first_actionable(store),
        "spawn_jumps": {f"history {h}": spawn_jumps(checkpoint, h) for h in (1, k)},
    }
    if args.json:
        print(json.dumps(report))
        return
    print(f"{checkpoint} (K = {k}), {args.split} split")
    for name, r in report["real_presses"].items():
        print(f"  {name:5} {r['events']:3} real presses: P(the game's next action) {r['p_with_input']:.3f} "
              f"with the input, {r['p_input_removed']:.3f} without")
    for ages, r in report["jump_presses_by_stand_age"].items():
        print(f"  replays: {r['presses']:5} X/Y presses in {r['standing_frames']:7} standing frames "
              f"after standing {ages} frames")
    first = report["first_actionable"]
    print(f"  replays: at the first actionable frame, {first['players']} players: {first['actions']}, "
          f"median state_age {first['median_state_age']:.0f}")
    for label, jumps in report["spawn_jumps"].items():
        print(f"  from the spawn points, seed {label:<11}: jumped in {sum(jumps)} of {len(jumps)} "
              f"stage/character pairs")


if __name__ == "__main__":
    main()
