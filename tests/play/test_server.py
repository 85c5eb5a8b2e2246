import asyncio
import json
import time
import urllib.request

import aiohttp
import pytest

from dreamland.play.server import MAX_MESSAGE_BYTES, Client, GameLoop, ServerThread
from tests.play.helpers import recv_until as _recv_until


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


def test_schema_and_pages_are_served():
    with ServerThread(GameLoop("toy", slots=("idle", "idle"), torch_threads=None)) as srv:
        schema = _get(srv.url + "api/schema")
        names = [f["name"] for f in schema["player_fields"]]
        assert {"x", "y", "percent", "action", "stocks"} <= set(names)
        assert {s["name"] for s in schema["stages"]} >= {"Battlefield", "Final Destination"}
        assert schema["actions"][14] == "STANDING" and "chase" in schema["bots"]
        # item types by id, once: name and drawing kind (schema.items)
        assert schema["items"]["54"] == {"name": "FOX_LASER", "kind": "laser"}
        assert schema["items"]["99"]["kind"] == "thrown" and "52" not in schema["items"]
        assert {t["kind"] for t in schema["items"].values()} <= set(schema["item_kinds"])
        with urllib.request.urlopen(srv.url, timeout=5) as r:
            assert b"app.js" in r.read()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(srv.url + "static/..%2Fserver.py", timeout=5)


def test_websocket_input_drives_player_and_bad_messages_are_rejected():
    game = GameLoop("toy", "final destination", slots=("keyboard", "idle"), torch_threads=None)
    with ServerThread(game) as srv:
        async def scenario():
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(srv.url + "ws") as ws:
                    welcome = await _recv_until(ws, "welcome")
                    assert welcome["role"] == "player"
                    x0 = (await _recv_until(ws, "frame"))["state"]["players"][0]["x"]
                    bad = [
                        "not json", "[1, 2]", json.dumps({"type": "warp"}),
                        json.dumps({"type": "input", "slot": 7, "controller": {}}),
                        json.dumps({"type": "input", "slot": 0, "controller": {"main_x": "fast"}}),
                        json.dumps({"type": "input", "slot": 0, "controller": {"main_x": 1e308 * 10}}),
                        json.dumps({"type": "input", "slot": 1, "controller": {}}),  # a bot's slot
                        json.dumps({"type": "restart", "stage": "hyrule"}),
                        json.dumps({"type": "input", "slot": 0, "pad": "x" * (MAX_MESSAGE_BYTES + 10)}),
                    ]
                    for text in bad:
                        await ws.send_str(text)
                    await ws.send_bytes(b"\x00\x01")
                    errors = 0
                    end = time.monotonic() + 5
                    while errors < len(bad) + 1 and time.monotonic() < end:
                        msg = json.loads((await ws.receive(timeout=5)).data)
                        errors += msg["type"] == "error"
                    assert errors == len(bad) + 1
                    right = {"main_x": 1.0, "main_y": 0.5, "buttons": []}
                    for _ in range(40):
                        frame = await _recv_until(ws, "frame")
                        await ws.send_str(json.dumps({"type": "input", "slot": 0, "frame": frame["state"]["frame"],
                                                      "controller": right}))
                    x1 = (await _recv_until(ws, "frame"))["state"]["players"][0]["x"]
                    assert x1 > x0 + 20
                    await ws.send_str(json.dumps({"type": "ping", "t": 1}))
                    assert (await _recv_until(ws, "pong"))["t"] == 1
            return x1

        x1 = asyncio.run(scenario())
        state = _get(srv.url + "api/state")
        assert state["stats"]["rejected"] == 10
        assert state["state"]["players"][0]["x"] >= x1 - 1  # the server saw the move
        f0 = state["state"]["frame"]
        time.sleep(0.3)
        assert _get(srv.url + "api/state")["state"]["frame"] > f0  # still running


def test_spectators_watch_but_cannot_play():
    with ServerThread(GameLoop("toy", slots=("chase", "random"), torch_threads=None)) as srv:
        async def scenario():
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(srv.url + "ws?spectate=1") as ws:
                    assert (await _recv_until(ws, "welcome"))["role"] == "spectator"
                    a = (await _recv_until(ws, "frame"))["state"]["frame"]
                    await ws.send_str(json.dumps({"type": "slot", "slot": 0, "source": "keyboard"}))
                    assert "spectator" in (await _recv_until(ws, "error"))["message"]
                    b = (await _recv_until(ws, "frame"))["state"]["frame"]
                    assert b > a
        asyncio.run(scenario())
        assert _get(srv.url + "api/state")["config"]["slots"][0]["source"] == "bot"


class _SlowSocket:
    closed = False

    def __init__(self):
        self.received = 0

    async def send_str(self, text):
        await asyncio.sleep(0.1)  # a client ten times too slow
        self.received += 1


def test_a_slow_client_never_slows_the_loop_and_stalls_are_counted():
    game = GameLoop("toy", slots=("chase", "chase"), torch_threads=None)

    async def scenario():
        client = Client(99, _SlowSocket(), spectator=True)
        game.clients[99] = client
        sender = asyncio.ensure_future(client.sender())
        task = asyncio.ensure_future(game.run())
        await asyncio.sleep(1.0)
        frames_1s = game.stats.frames
        game.stall = 0.3  # the machine stalls for 300 ms once
        await asyncio.sleep(1.0)
        game.stop()
        await task
        sender.cancel()
        return frames_1s, client

    frames_1s, client = asyncio.run(scenario())
    game.close()
    # a loop that waited for this client would make at most 10 frames a second; a busy machine
    # makes fewer than 60, so the bounds sit between the two
    assert frames_1s >= 30
    assert client.dropped >= 20 and client.ws.received <= 25
    assert game.stats.late >= 1 and game.stats.skipped >= 10
    assert game.stats.frames >= frames_1s + 20  # it went on after the stall


def test_a_compiled_step_that_fell_back_is_reported(caplog):
    """A compiler failure leaves the game playable but slower: the loop says so once."""
    import logging

    from dreamland.play import PhysicsToyStepper

    class FellBack(PhysicsToyStepper):
        compile_error = "aot-tuned: CppCompileError: no C++ compiler"

    with caplog.at_level(logging.WARNING, logger="dreamland.play.server"):
        GameLoop(FellBack(), slots=("idle", "idle"), torch_threads=None)
        GameLoop("toy", slots=("idle", "idle"), torch_threads=None)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "no C++ compiler" in warnings[0], warnings


# --- the replays a server offers its page (play/library.py) -------------------------------------

SHEIK_FALCO = "Walnut356_SlippiStats__Modern_Replays_Game_20221227T193458.slp"  # Sheik vs Falco, BF
PEACH_FALCON = "Gaurav-Iyer_stockfox__test.slp"  # Peach vs Falcon, FD
OTHER = "Walnut356_SlippiStats__Modern_Replays_Game_20221228T031427.slp"


def _replay_folder(replay_file, root):
    """A folder as a player keeps one: games in monthly subfolders, a file that is not a replay
    under a .slp name, and files that are not replays at all."""
    (root / "2022-12").mkdir(parents=True)
    (root / "2022-12" / SHEIK_FALCO).symlink_to(replay_file(SHEIK_FALCO))
    (root / "old").mkdir()
    (root / "old" / "PEACH.SLP").symlink_to(replay_file(PEACH_FALCON))
    (root / "broken.slp").write_text("This is not a replay: a text file named .slp")
    (root / "notes.txt").write_text("not listed")
    (root / "2022-12" / "game.slp.json").write_text("{}")
    return root


def test_the_replay_list_names_the_folders_replays_with_facts_from_their_headers(replay_file, tmp_path, monkeypatch):
    from dreamland.play.replay import load_replay

    folder = _replay_folder(replay_file, tmp_path / "Slippi")
    frames = len(load_replay(replay_file(SHEIK_FALCO)))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "single.slp").symlink_to(replay_file(OTHER))

    def no_full_parse(*a, **k):
        raise AssertionError("a listing must read headers only")

    monkeypatch.setattr("dreamland.replay.parse.parse_game", no_full_parse)
    monkeypatch.setattr("dreamland.play.replay.parse_game", no_full_parse)
    game = GameLoop("toy", slots=("idle", "idle"), torch_threads=None, replays=folder)
    # as `--replay` adds its file; one that is also in the folder is listed once, under its folder path
    game.replays.files += [outside / "single.slp", folder / "2022-12" / SHEIK_FALCO]
    with ServerThread(game) as srv:
        body = _get(srv.url + "api/replays")
    by_path = {r["path"]: r for r in body["replays"]}
    assert set(by_path) == {f"2022-12/{SHEIK_FALCO}", "old/PEACH.SLP", "broken.slp", "single.slp"}
    assert body["total"] == 4 and body["folder"] is True and body["current"] is None
    sheik = by_path[f"2022-12/{SHEIK_FALCO}"]
    assert sheik["stage"] == "Battlefield" and sheik["frames"] == frames
    assert [p["character"] for p in sheik["players"]] == ["Sheik", "Falco"]
    assert sheik["start_at"].startswith("2022-12-28")
    assert by_path["old/PEACH.SLP"]["stage"] == "Final Destination"
    assert by_path["broken.slp"]["error"] == "not a replay" and "stage" not in by_path["broken.slp"]
    assert not any(str(tmp_path) in json.dumps(r) for r in body["replays"])  # no server paths leak


def test_hundreds_of_replays_are_listed_from_headers_and_cached(replay_file, tmp_path, monkeypatch):
    from dreamland.play.library import ReplayLibrary

    folder = tmp_path / "many"
    for month in range(10):
        (folder / f"2023-{month + 1:02d}").mkdir(parents=True)
        for k in range(30):
            (folder / f"2023-{month + 1:02d}" / f"Game_{k:03d}.slp").symlink_to(replay_file(SHEIK_FALCO))
    monkeypatch.setattr("dreamland.replay.parse.parse_game", lambda *a, **k: 1 / 0)
    library = ReplayLibrary(folder)
    first = library.listing()
    assert first["total"] == 300 and all(r["stage"] == "Battlefield" for r in first["replays"])
    monkeypatch.setattr("dreamland.play.library.read_raw", lambda *a, **k: 1 / 0)
    again = library.listing()  # unchanged files: their facts come from the cache
    assert again == first
    assert len(library.listing(limit=20)["replays"]) == 20


def test_a_server_without_replays_lists_none_and_a_missing_folder_fails_at_once(tmp_path):
    from dreamland.play.library import ReplayLibrary

    with ServerThread(GameLoop("toy", slots=("idle", "idle"), torch_threads=None)) as srv:
        assert _get(srv.url + "api/replays") == {"replays": [], "total": 0, "folder": False, "current": None}
    with pytest.raises(NotADirectoryError):
        ReplayLibrary(tmp_path / "nowhere")
