"""`/api/stats` names the model and its step mode and splits each frame into phases; frames echo
the number of the input they were computed with (the page's input latency)."""

import asyncio
import json
import time
import urllib.request

import aiohttp

from dreamland.play.server import GameLoop, ServerThread
from dreamland.play.timing import PHASES, PhaseTimes, describe_model

from .helpers import ScriptedStepper


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


class SlowStepper(ScriptedStepper):
    """Sleeps in every step: the model phase must own that time."""

    def step(self, model_state, game_state, controllers):
        time.sleep(0.004)
        return super().step(model_state, game_state, controllers)


def test_phase_shares_are_of_the_frame_period():
    t = PhaseTimes()
    for _ in range(10):
        t.add("model", 8.0)
        t.add("rules", 1.0)
    snap = t.snapshot(fps=50.0)  # a 20 ms period
    assert snap["phases"]["model"]["share"] == 0.4 and snap["phases"]["rules"]["share"] == 0.05
    assert snap["phases"]["send"]["share"] == 0.0
    assert abs(snap["idle_share"] - 0.55) < 1e-9


def test_describe_model_names_the_toy_and_a_stepper():
    assert describe_model(object(), "toy")["name"] == "physics toy (not a model)"
    info = describe_model(ScriptedStepper(), ScriptedStepper())
    assert info["name"] == "ScriptedStepper" and info["step_mode"] == "python"


def test_api_stats_names_the_model_and_attributes_the_time_to_the_model():
    game = GameLoop(SlowStepper(), slots=("idle", "idle"), torch_threads=None)
    with ServerThread(game) as srv:
        deadline = time.time() + 20
        while game.stats.frames < 30 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the phase shares are recomputed four times a second
        stats = _get(srv.url + "api/stats")
    assert stats["model"]["name"] == "SlowStepper" and stats["model"]["step_mode"] == "python"
    assert set(stats["phases"]) == set(PHASES)
    model = stats["phases"]["model"]
    assert model["mean_ms"] >= 4.0  # the stepper's sleep is counted as model time
    assert model["max_ms"] >= model["p99_ms"] >= 4.0
    others = [stats["phases"][p]["mean_ms"] for p in ("bots", "rules", "state", "json")]
    assert all(0.0 < ms for ms in others)
    assert 0.0 <= stats["idle_share"] <= 1.0
    for key in ("frame_ms_p50", "frame_ms_p99", "frame_ms_max", "late", "fps", "clients"):
        assert key in stats


def test_frames_echo_the_input_sequence_number_they_used():
    game = GameLoop("toy", "final destination", slots=("keyboard", "idle"), torch_threads=None)
    with ServerThread(game) as srv:
        async def scenario():
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(srv.url + "ws") as ws:
                    await ws.send_str(json.dumps({"type": "input", "slot": 0, "seq": 41, "controller": {}}))
                    end = time.monotonic() + 5
                    while time.monotonic() < end:
                        data = json.loads((await ws.receive(timeout=5)).data)
                        if data["type"] == "frame" and data["input_seq"][0] == 41:
                            assert data["input_seq"][1] is None  # a bot's slot has no input number
                            assert "model" in data["stats"]
                            break
                    else:
                        raise AssertionError("no frame used input 41")
                    await ws.send_str(json.dumps({"type": "input", "slot": 0, "seq": "x", "controller": {}}))
                    while True:
                        data = json.loads((await ws.receive(timeout=5)).data)
                        if data["type"] == "error":
                            assert "seq" in data["message"]
                            break

        asyncio.run(scenario())
