"""The counted action table and the lookup baseline, on real games."""

from __future__ import annotations

import numpy as np
import torch

from dreamland.data import layout
from dreamland.data.encoding import encode_controller, to_torch
from dreamland.data.windows import Gather
from dreamland.data.action_table import ActionTable, input_class, run_age
from dreamland.steppers.baselines import ConstantVelocityStepper, LookupStepper
from dreamland.data.frame import frame_at
from dreamland.schema.controller import BUTTON_BITS

ACTION = layout.PLAYER_GROUPS[2].index("action")
CHAR = layout.PLAYER_GROUPS[1].index("character")


def test_run_age_counts_frames_since_the_action_began():
    action = np.array([[5, 1], [5, 1], [5, 2], [7, 2], [7, 2], [5, 2]])
    assert run_age(action).tolist() == [[0, 0], [1, 1], [2, 0], [0, 1], [1, 2], [0, 3]]


def _controller(x=0.0, y=0.0, cx=0.0, cy=0.0, trigger=0.0, buttons=()):
    mask = sum(BUTTON_BITS[b] for b in buttons)
    return encode_controller(torch.tensor([x, y, cx, cy, trigger]), torch.tensor(mask))


def test_input_class_reads_the_stick_direction_and_the_buttons():
    # class = ((dx + 1) * 3 + (dy + 1)) * 64 + flags; flags: A 1, B 2, jump 4, shield 8, Z 16, C-stick 32
    cases = [
        (_controller(), 4 * 64),
        (_controller(0.2, -0.2), 4 * 64),  # inside the dead zone
        (_controller(buttons=("A",)), 4 * 64 + 1),
        (_controller(x=1.0), 7 * 64),
        (_controller(x=-0.8, y=0.9, buttons=("Y",)), 2 * 64 + 4),
        (_controller(y=-1.0, buttons=("B",)), 3 * 64 + 2),
        (_controller(trigger=0.9), 4 * 64 + 8),
        (_controller(buttons=("R", "Z")), 4 * 64 + 8 + 16),
        (_controller(cx=1.0), 4 * 64 + 32),
    ]
    for controller, expected in cases:
        assert input_class(controller).item() == expected


def _next_actions(store, table, game):
    """Teacher-forced: the table's next action for every frame of a game, and the real one."""
    a, b = int(store.start[game]), int(store.start[game] + store.length[game])
    action = torch.from_numpy(np.asarray(store["player_wide"][a:b, :, ACTION]).astype(np.int64))
    char = torch.from_numpy(np.asarray(store["player_small"][a:b, :, CHAR]).astype(np.int64))
    ctrl = encode_controller(torch.from_numpy(np.asarray(store["controller_sticks"][a:b]).astype(np.float32)),
                             torch.from_numpy(np.asarray(store["controller_buttons"][a:b, :, 0]).astype(np.int64)))
    age = torch.from_numpy(run_age(action.numpy()))
    pred = table.next_action(char[:-1], action[:-1], age[:-1], input_class(ctrl[1:]))
    return pred, action[1:], action[:-1]


def test_counted_table_predicts_the_next_action_of_an_unseen_game(small_store):
    """Counted on four real games, the table gets the next action of the fifth right more often
    than "the action stays", and foresees some of its changes."""
    games = np.arange(len(small_store.start))
    unseen = 3  # Sheik vs Falco: both characters also in the counted games
    table = ActionTable.count(small_store, np.setdiff1d(games, [unseen]))
    pred, real, cur = _next_actions(small_store, table, unseen)
    acc, hold = (pred == real).float().mean().item(), (cur == real).float().mean().item()
    changed = real != cur
    foreseen = (pred == real)[changed].float().mean().item()
    print(f"unseen game: lookup {acc:.3f}, hold {hold:.3f}, changes foreseen {foreseen:.3f} of {int(changed.sum())}")
    assert acc > hold and foreseen > 0.1  # "the action stays" foresees none


def test_lookup_stepper_steps_actions_and_ages(small_store):
    """From a real seed the stepper writes looked-up actions, restarts state_age on a change, and
    moves positions as constant velocity does."""
    games = np.arange(len(small_store.start))
    stepper = LookupStepper.for_evaluation(small_store, games[:0])
    assert stepper is not None and LookupStepper.for_evaluation(small_store, small_store.games_in("train")) is None
    g = 3
    starts = np.array([int(small_store.start[g]) + 900, int(small_store.start[g]) + 2000])
    seed = to_torch(Gather(small_store, 30)(starts, np.full(2, g)))
    cv = ConstantVelocityStepper()
    state, cv_state = stepper.init(seed), cv.init(seed)
    frame = cv_frame = frame_at(seed, 29)
    changes = 0
    for t in range(60):
        ctrl = torch.full((2, 2, 17), 0.5)  # sticks neutral, nothing pressed
        ctrl[..., 4:] = 0.0
        before = frame["player_wide"][..., ACTION].clone()
        state, frame = stepper.step(state, frame, ctrl)
        cv_state, cv_frame = cv.step(cv_state, cv_frame, ctrl)
        assert torch.equal(frame["player_real"][..., :2], cv_frame["player_real"][..., :2])
        changed = frame["player_wide"][..., ACTION] != before
        changes += int(changed.sum())
        age = frame["player_real"][..., layout.PLAYER_GROUPS[0].index("state_age")]
        assert (age[changed] == 0).all()
    assert changes > 0
