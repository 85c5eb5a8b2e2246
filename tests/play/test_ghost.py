"""Replay ghost mode: the replay's inputs drive the model beside the real game, divergence, pause,
step, seek, take-over and the saved session."""

import json
import time
import urllib.request

import pytest
import torch

from dreamland.play.ghost import SESSION_FORMAT, GhostReplay, divergence
from dreamland.play.server import GameLoop, MessageError, ServerThread

from .helpers import RecordingStepper

REPLAY = "Walnut356_SlippiStats__Modern_Replays_Game_20221227T193458.slp"  # Sheik vs Falco, BF


@pytest.fixture(scope="module")
def replay_path(replay_file):
    return str(replay_file(REPLAY))


class Client:  # the parts of a websocket client `GameLoop.handle` reads
    id = 1
    spectator = False

    def rate_ok(self):
        return True


def _frame(game, seq=None):
    return json.loads(game._compute([None, None], None, seq))


def test_the_real_inputs_drive_the_model_and_the_ghost_is_the_real_game(replay_path):
    stepper = RecordingStepper()  # keeps the frame: the dream stands still while reality moves
    game = GameLoop(stepper, slots=("replay", "replay"), replay=replay_path, torch_threads=None)
    ghost = game.ghost
    start = ghost.row
    msgs = [_frame(game) for _ in range(200)]
    assert ghost.row == start + 200
    for k, seen in enumerate(stepper.seen[-200:]):  # the real inputs of the frames played
        assert torch.allclose(seen[0], ghost.game.controllers[start + k + 1].float(), atol=1e-6)
    last = msgs[-1]["ghost"]
    assert last["frame_id"] == int(ghost.game.frame_ids[start + 200])
    real_x = [p["x"] for p in last["players"]]
    dream_x = [p["x"] for p in msgs[-1]["state"]["players"]]
    errs = last["divergence"]["position_error"]
    for p in (0, 1):  # a distance is at least its x part
        assert errs[p] >= abs(real_x[p] - dream_x[p]) - 1e-2
    assert max(errs) > 0  # the real players moved; this stepper does not


def test_pause_step_seek_and_take_over(replay_path):
    stepper = RecordingStepper()
    game = GameLoop(stepper, slots=("replay", "replay"), replay=replay_path, torch_threads=None)
    _frame(game)
    game.handle(Client(), json.dumps({"type": "replay", "op": "pause"}))
    row = game.ghost.row
    f0 = _frame(game)["state"]["frame"]
    assert _frame(game)["state"]["frame"] == f0 and game.ghost.row == row  # paused: nothing moves
    game.handle(Client(), json.dumps({"type": "replay", "op": "step"}))
    assert _frame(game)["state"]["frame"] == f0 + 1 and game.ghost.row == row + 1
    target = int(game.ghost.game.frame_ids[0]) + 1000
    game.handle(Client(), json.dumps({"type": "replay", "op": "seek", "frame": target}))
    msg = _frame(game)
    assert msg["ghost"]["frame_id"] == target
    # seeded from the real frames: the dream starts where reality is
    assert msg["ghost"]["divergence"]["position_error"] == [0.0, 0.0]
    with pytest.raises(MessageError):
        game.handle(Client(), json.dumps({"type": "replay", "op": "rewind"}))
    # take over slot 1 with the keyboard: the replay no longer drives it
    game.handle(Client(), json.dumps({"type": "replay", "op": "resume"}))
    game.handle(Client(), json.dumps({"type": "slot", "slot": 0, "source": "keyboard"}))
    game.handle(Client(), json.dumps({"type": "input", "slot": 0, "controller": {"main_x": 1.0}}))
    game._compute([game.slots[0].controller, None], None)
    assert stepper.seen[-1][0, 0, 0].item() == pytest.approx(1.0)  # the person's stick
    assert torch.allclose(stepper.seen[-1][0, 1], game.ghost.game.controllers[game.ghost.row, 1].float(), atol=1e-6)


def test_divergence_compares_positions_and_actions(replay_path):
    g = GhostReplay(replay_path, 16)
    real = g.real_state()
    assert divergence(real, real) == {"position_error": [0.0, 0.0], "action_mismatch": [False, False]}


def test_the_session_is_one_file_of_inputs_and_states(replay_path):
    game = GameLoop(RecordingStepper(), slots=("replay", "replay"), replay=replay_path, torch_threads=None)
    with ServerThread(game) as srv:
        deadline = time.time() + 20
        while len(game.recording.frames) < 30 and time.time() < deadline:
            time.sleep(0.05)
        with urllib.request.urlopen(srv.url + "api/session", timeout=10) as r:
            session = json.load(r)
    assert session["format"] == SESSION_FORMAT and session["replay"] == REPLAY
    f = session["frames"][-1]
    assert len(f["inputs"]) == 2 and len(f["inputs"][0]) == 17
    assert {"players", "frame"} <= set(f["state"]) and "divergence" in f["ghost"]
    frames = [x["frame"] for x in session["frames"]]
    assert frames == sorted(frames)
