"""The real page in headless Chromium (Playwright driving the system Chromium; no browser download).

Skipped when the Playwright package or a Chromium binary is missing. Set DREAMLAND_CHROMIUM to
use another binary."""

import json
import os
import shutil
import time
import urllib.request

import pytest

sync_api = pytest.importorskip("playwright.sync_api")

from dreamland.play.server import GameLoop, ServerThread  # noqa: E402

CHROMIUM = os.environ.get("DREAMLAND_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM, reason="no Chromium binary (apt-get install chromium)")


def _state(url):
    with urllib.request.urlopen(url + "api/state", timeout=5) as r:
        return json.load(r)


def test_keyboard_in_the_page_moves_player_1_and_bad_messages_do_not_stop_the_game():
    game = GameLoop("toy", "final destination", ("fox", "falco"), slots=("idle", "idle"), torch_threads=None)
    with ServerThread(game) as srv, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, errors = _open(browser, srv.url)
            page.wait_for_function("Number(document.getElementById('frame').textContent) > 10", timeout=20000)
            # the inspector lists the fields the server declared
            assert page.locator("#p0-x").count() == 1 and page.locator("#p0-action_name").count() == 1
            page.select_option("#slot0", "keyboard")
            page.wait_for_function("document.getElementById('slot0').value === 'keyboard'")
            deadline = time.time() + 10
            while _state(srv.url)["config"]["slots"][0]["source"] != "keyboard" and time.time() < deadline:
                time.sleep(0.05)
            x_page0 = float(page.locator("#p0-x").text_content())
            x_server0 = _state(srv.url)["state"]["players"][0]["x"]
            page.keyboard.down("KeyD")  # main stick right (Keyboard 1)
            time.sleep(1.0)
            page.keyboard.up("KeyD")
            page.wait_for_function(f"Number(document.getElementById('p0-x').textContent) > {x_page0 + 20}", timeout=10000)
            assert _state(srv.url)["state"]["players"][0]["x"] > x_server0 + 20
            assert float(page.locator("#p1-x").text_content()) == pytest.approx(60.0, abs=0.5)  # player 2 idle
            # the press was timed from the key event to the drawn frame computed with it
            lat = page.evaluate("window.dreamlandLatency")
            assert lat["samples"] >= 1 and lat["last"] > 0 and lat["frame"] >= 0
            assert page.locator("#latency").text_content() != "–"
            # /api/stats and the page name the model, its step mode and the frame's phases
            stats = json.load(urllib.request.urlopen(srv.url + "api/stats", timeout=5))
            assert stats["model"]["name"] == "physics toy (not a model)"
            assert stats["phases"]["model"]["share"] > 0 and stats["phases"]["send"]["mean_ms"] > 0
            page.wait_for_function("document.getElementById('model').textContent.includes('physics toy')")
            assert "step python" in page.locator("#model").text_content()
            # a jump from the page
            page.keyboard.down("Space")
            page.wait_for_function("document.getElementById('p0-on_ground').textContent === 'false'", timeout=5000)
            page.keyboard.up("Space")
            # malformed messages from a page: rejected, the game goes on
            frame0 = _state(srv.url)["state"]["frame"]
            page.evaluate("""() => new Promise((done) => {
                const ws = new WebSocket(`ws://${location.host}/ws`);
                ws.onopen = () => {
                    ws.send("{{{ not json");
                    ws.send(JSON.stringify({type: "input", slot: 0, controller: {main_x: "left"}}));
                    ws.send("x".repeat(10000));
                    setTimeout(() => { ws.close(); done(); }, 300);
                };
            })""")
            time.sleep(0.3)
            st = _state(srv.url)
            assert st["stats"]["rejected"] >= 3
            assert st["state"]["frame"] > frame0 + 10
            page.wait_for_function(f"Number(document.getElementById('frame').textContent) > {st['state']['frame']}")
            assert not errors
            page.screenshot(path=os.environ.get("DREAMLAND_SCREENSHOT", "/dev/null"), type="png")
        finally:
            browser.close()


def _launch(pw):
    return pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def _open(browser, url: str):
    """A new page on `url` and the list its script errors are collected into."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    return page, errors


def test_the_drawn_pose_follows_the_action_category():
    game = GameLoop("toy", "battlefield", ("marth", "jigglypuff"), slots=("idle", "idle"), torch_threads=None)
    with ServerThread(game) as srv, sync_api.sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page, errors = _open(browser, srv.url)
            page.wait_for_function("window.dreamlandPoses[0] === 'stand'", timeout=20000)
            page.select_option("#slot0", "keyboard")
            page.wait_for_function("document.getElementById('slot0').value === 'keyboard'")
            page.keyboard.down("KeyD")
            page.wait_for_function("['walk', 'dash'].includes(window.dreamlandPoses[0])", timeout=10000)
            page.keyboard.up("KeyD")
            page.keyboard.down("Space")
            page.wait_for_function("['jump', 'fall'].includes(window.dreamlandPoses[0])", timeout=10000)
            page.keyboard.up("Space")
            # B: the toy fires its projectile (type 54, Fox's laser), drawn as a laser under its name
            page.keyboard.down("KeyG")
            page.wait_for_function("window.dreamlandItems.some((i) => i.type === 54)", timeout=10000)
            page.keyboard.up("KeyG")
            drawn = page.evaluate("window.dreamlandItems.find((i) => i.type === 54)")
            assert drawn == {"type": 54, "kind": "laser", "name": "FOX_LASER"}
            schema = json.load(urllib.request.urlopen(srv.url + "api/schema", timeout=5))
            assert {"stand", "walk", "jump", "shield", "ledge", "dead", "respawn"} <= set(schema["poses"])
            assert all(len(s["outline"]) >= 4 for s in schema["stages"])
            assert not errors
        finally:
            browser.close()


def test_replay_ghost_divergence_take_over_and_session_playback(replay_file):
    from .helpers import RecordingStepper

    replay = replay_file("Walnut356_SlippiStats__Modern_Replays_Game_20221227T193458.slp")
    game = GameLoop(RecordingStepper(), slots=("replay", "replay"), replay=str(replay), torch_threads=None)
    with ServerThread(game) as srv, sync_api.sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page, errors = _open(browser, srv.url)
            # the ghost and the divergence plot
            page.wait_for_function("(window.dreamlandDivergence || 0) > 20", timeout=20000)
            assert page.locator("#replaybox").is_visible()
            assert page.evaluate("latest.ghost.players.length") == 2
            # pause, step
            page.click("#pause")
            page.wait_for_function("document.getElementById('ghostframe').textContent.includes('paused')", timeout=5000)
            f0 = _state(srv.url)["state"]["frame"]
            page.click("#stepbtn")
            deadline = time.time() + 5
            while _state(srv.url)["state"]["frame"] != f0 + 1 and time.time() < deadline:
                time.sleep(0.05)
            assert _state(srv.url)["state"]["frame"] == f0 + 1
            page.click("#pause")  # resume
            # take over slot 1 with the keyboard
            page.select_option("#slot0", "keyboard")
            deadline = time.time() + 10
            while _state(srv.url)["config"]["slots"][0]["source"] != "keyboard" and time.time() < deadline:
                time.sleep(0.05)
            assert _state(srv.url)["config"]["slots"][0]["source"] == "keyboard"
            # the saved session, played back on the page
            page.evaluate("fetch('/api/session').then((r) => r.json()).then((s) => window.dreamlandStartPlayback(s))")
            page.wait_for_function("window.dreamlandPlayback && window.dreamlandPlayback.index > 10", timeout=10000)
            assert page.evaluate("window.dreamlandPlayback.total") > 10
            assert not errors
        finally:
            browser.close()


def test_a_replay_picked_on_the_page_shows_the_ghost_and_leaving_it_brings_the_live_game_back(replay_file, tmp_path):
    from .helpers import RecordingStepper

    name = "Walnut356_SlippiStats__Modern_Replays_Game_20221227T193458.slp"  # Sheik vs Falco, BF
    folder = tmp_path / "Slippi"
    (folder / "2022-12").mkdir(parents=True)
    (folder / "2022-12" / name).symlink_to(replay_file(name))
    (folder / "broken.slp").write_text("This is not a replay")
    game = GameLoop(RecordingStepper(), "final destination", ("fox", "marth"), slots=("chase", "idle"),
                    torch_threads=None, replays=folder)
    with ServerThread(game) as srv, sync_api.sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page, errors = _open(browser, srv.url)
            page.wait_for_function("window.dreamlandReplays === 2", timeout=20000)
            assert page.locator("#replaybox").is_hidden()  # a live game: no ghost
            # the list says what each game is; the filter narrows it
            label = page.locator("#replaylist option", has_text="Sheik").text_content()
            assert "Falco" in label and "Battlefield" in label
            page.fill("#replayfilter", "sheik battlefield")
            assert page.locator("#replaylist option").count() == 1
            page.fill("#replayfilter", "")
            # a file that is no replay: one line on the page, the live game goes on
            page.select_option("#replaylist", "broken.slp")
            page.click("#openreplay")
            page.wait_for_function("document.getElementById('notice').textContent.includes('cannot open broken.slp')",
                                   timeout=10000)
            frame = _state(srv.url)["state"]["frame"]
            page.wait_for_function(f"Number(document.getElementById('frame').textContent) > {frame + 10}")
            assert _state(srv.url)["config"]["replay"] is None
            # the real one: the ghost and the divergence plot appear
            page.select_option("#replaylist", f"2022-12/{name}")
            page.click("#openreplay")
            page.wait_for_function("(window.dreamlandDivergence || 0) > 20", timeout=20000)
            assert page.locator("#replaybox").is_visible()
            assert page.evaluate("latest.ghost.path") == f"2022-12/{name}"
            assert page.evaluate("latest.ghost.players.length") == 2
            assert page.locator("#slot0").input_value() == "bot:replay"
            assert "watching" in page.locator("#replaynote").text_content()
            # leave: the live game of before, the ghost gone
            page.click("#leavereplay")
            page.wait_for_function("latest && latest.ghost === null && latest.state.stage === 32", timeout=10000)
            page.wait_for_function("document.getElementById('replaybox').hidden")
            st = _state(srv.url)
            assert st["config"]["replay"] is None and st["config"]["characters"] == [2, 9]
            assert [s["bot"] for s in st["config"]["slots"]] == ["chase", "idle"]
            assert not errors
        finally:
            browser.close()
