"""Replay ghost mode: the replay's inputs drive the model beside the real game, divergence, pause,
step, seek, take-over and the saved session."""

import gc
import json
import time
import urllib.request

import pytest
import torch

from dreamland.play.ghost import SESSION_FORMAT, GhostReplay, Recording, divergence
from dreamland.play.server import GameLoop, MessageError, ServerThread

from .helpers import RecordingStepper, recv_until

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


def test_a_recording_keeps_its_frames_out_of_the_cycle_collectors_walk():
    """Ten minutes of frames held as nested dicts made each full collection stall the game loop;
    as JSON text the collector does not walk them, and the session file is the same object."""
    rec = Recording({"model": "m", "fps": 60.0, "replay": None})
    state = {"frame": 3, "players": [{"x": 1.5, "action": 14}]}
    rec.add(3, torch.zeros(2, 17), state, None)
    rec.add(4, torch.ones(2, 17), state, {"divergence": {"position_error": [0.5]}})
    assert not any(gc.is_tracked(f) for f in rec.frames)
    session = json.loads(rec.to_text())
    assert session["format"] == SESSION_FORMAT and session["model"] == "m" and session["replay"] is None
    assert [f["frame"] for f in session["frames"]] == [3, 4]
    assert session["frames"][0]["state"] == state and session["frames"][1]["inputs"][0] == [1.0] * 17
    assert "ghost" not in session["frames"][0] and session["frames"][1]["ghost"]["divergence"]["position_error"] == [0.5]


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


# --- replay mode started from the page: {"type": "replay", "op": "open" | "leave"} -------------


async def _until(ws, kind, pred=lambda m: True, timeout=20.0):
    """The next message of `kind` that satisfies `pred` (others are skipped)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        msg = await recv_until(ws, kind, timeout=max(0.1, end - time.monotonic()))
        if pred(msg):
            return msg
    raise AssertionError(f"no such {kind} message")


def _state(url):
    with urllib.request.urlopen(url + "api/state", timeout=5) as r:
        return json.load(r)


def test_a_replay_opened_from_the_page_then_left_for_the_live_game(replay_path, tmp_path):
    import asyncio

    import aiohttp

    folder = tmp_path / "replays"
    (folder / "2022-12").mkdir(parents=True)
    key = f"2022-12/{REPLAY}"
    (folder / key).symlink_to(replay_path)
    (folder / "corrupt.slp").write_bytes(b"{U\x03raw[$U#l" + bytes(64))  # a header, then nothing
    (folder / "text.slp").write_text("This is not a replay")
    game = GameLoop(RecordingStepper(), "final destination", ("fox", "marth"), slots=("chase", "idle"),
                    torch_threads=None, replays=folder)
    with ServerThread(game) as srv:
        async def scenario():
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(srv.url + "ws") as ws:
                    await recv_until(ws, "welcome")
                    # only the server's own list: no path of the filesystem, relative or absolute
                    for path in ["../replays/corrupt.slp", str(folder / key), "2022-12/../text.slp", REPLAY, 7, None]:
                        await ws.send_str(json.dumps({"type": "replay", "op": "open", "path": path}))
                        assert "not a replay this server offers" in (await recv_until(ws, "error"))["message"]
                    await ws.send_str(json.dumps({"type": "replay", "op": "leave"}))
                    assert (await recv_until(ws, "error"))["message"] == "not in replay mode"
                    # a real replay: the game becomes the dream beside it
                    await ws.send_str(json.dumps({"type": "replay", "op": "open", "path": key}))
                    assert (await recv_until(ws, "opening"))["path"] == key
                    config = await _until(ws, "config", lambda m: m["replay"] == key and "replay" in m["bots"])
                    assert config["stage"] == 31 and config["characters"] == [19, 20]  # Sheik, Falco on BF
                    frame = await _until(ws, "frame", lambda m: m["ghost"] is not None)
                    assert frame["ghost"]["path"] == key and [s["bot"] for s in frame["slots"]] == ["replay", "replay"]
                    assert frame["ghost"]["divergence"]["position_error"] == [0.0, 0.0]  # seeded from reality
                    # unreadable files: one line each, and the replay plays on
                    for bad, why in (("corrupt.slp", "unreadable (invalid data"), ("text.slp", "not a replay")):
                        await ws.send_str(json.dumps({"type": "replay", "op": "open", "path": bad}))
                        await recv_until(ws, "opening")
                        message = (await recv_until(ws, "error"))["message"]
                        assert message.startswith(f"cannot open {bad}: {why}") and "\n" not in message
                    f0 = (await recv_until(ws, "frame"))["ghost"]["frame_id"]
                    later = await _until(ws, "frame", lambda m: m["ghost"]["frame_id"] > f0 + 10)
                    assert later["ghost"]["path"] == key
                    # take over slot 1, then leave: the live game as it was before the replay
                    await ws.send_str(json.dumps({"type": "slot", "slot": 0, "source": "keyboard"}))
                    await ws.send_str(json.dumps({"type": "replay", "op": "leave"}))
                    config = await _until(ws, "config", lambda m: m["replay"] is None and "replay" not in m["bots"])
                    assert config["stage"] == 32 and config["characters"] == [2, 9]  # Fox, Marth on FD
                    frame = await _until(ws, "frame", lambda m: m["ghost"] is None)
                    assert [(s["source"], s["bot"]) for s in frame["slots"]] == [("keyboard", None), ("bot", "idle")]
                    # and in again, then out by a restart
                    await ws.send_str(json.dumps({"type": "replay", "op": "open", "path": key}))
                    await _until(ws, "frame", lambda m: m["ghost"] is not None)
                    await ws.send_str(json.dumps({"type": "restart", "stage": "battlefield",
                                                  "characters": ["fox", "fox"]}))
                    frame = await _until(ws, "frame", lambda m: m["ghost"] is None)
                    assert frame["state"]["stage"] == 31

        asyncio.run(scenario())
        state = _state(srv.url)
        assert state["config"]["replay"] is None and state["stats"]["rejected"] == 7
        f0 = state["state"]["frame"]
        time.sleep(0.3)
        assert _state(srv.url)["state"]["frame"] > f0  # the server plays on
