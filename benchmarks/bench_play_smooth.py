"""Smoothness of `dreamland play` with the page open in headless Chromium on the same machine
(not part of the test suite).

    python benchmarks/bench_play_smooth.py --minutes 10 --out smooth.json     # the shipped model
    python benchmarks/bench_play_smooth.py --minutes 1 --stepper toy          # the loop alone

Starts the real server (`ServerThread(GameLoop(...))`, two bots: chase and random), opens the page
in headless Chromium (Playwright, the system binary) and, every second, reads `/api/stats` and
the CPU time used by this process and by Chromium's processes. Reports, as JSON: frames, late
frames and their share, skipped frames, server frame time p50 / p99 / max over the whole run
(every frame, not the server's 600-frame window), the mean share of the frame period of each phase
(bots, model, rules, state, json, send), their worst p99 and maximum, and the idle share, the page's draw rate, and how the two
cores' time was split between the server process and the browser.

Targets (issue 15): late frames <= 0.5 %, server frame time p99 <= 10 ms, with the shipped model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
import urllib.request

import psutil

from dreamland.model.config import COMPILE_MODES


def _cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _browser_processes(me: psutil.Process) -> list[psutil.Process]:
    return [c for c in me.children(recursive=True) if "chrom" in c.name().lower()]


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))] if s else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--stepper", default=None, help="checkpoint folder or 'toy' (default: the shipped model)")
    ap.add_argument("--stage", default="battlefield")
    ap.add_argument("--compile", choices=COMPILE_MODES, default="eager", help="the model's step mode")
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from dreamland.play.server import GameLoop, ServerThread

    game = GameLoop(args.stepper, args.stage, ("fox", "marth"), slots=("chase", "random"),
                    compile=False if args.compile == "eager" else args.compile)
    frame_ms: list[float] = []
    original_record = game.stats.record

    def record(compute_ms: float, now: float) -> None:  # every frame, not the 600-frame window
        frame_ms.append(compute_ms)
        original_record(compute_ms, now)

    game.stats.record = record  # type: ignore[method-assign]
    me = psutil.Process()
    samples = []
    with ServerThread(game) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium,
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(srv.url)
        # the first frame waits for an aot step to compile (minutes on a busy machine)
        page.wait_for_function("Number(document.getElementById('frame').textContent) > 10", timeout=600000)
        frames0, late0, skipped0 = game.stats.frames, game.stats.late, game.stats.skipped
        del frame_ms[:]
        t_end = time.monotonic() + 60 * args.minutes
        server0, browser0, wall0 = _cpu_seconds([me]), _cpu_seconds(_browser_processes(me)), time.monotonic()
        while time.monotonic() < t_end:
            time.sleep(1.0)
            with urllib.request.urlopen(srv.url + "api/stats", timeout=5) as r:
                st = json.load(r)
            st["draw_fps"] = int(page.locator("#drawfps").text_content() or 0)
            samples.append(st)
        wall = time.monotonic() - wall0
        server_cpu = _cpu_seconds([me]) - server0
        browser_cpu = _cpu_seconds(_browser_processes(me)) - browser0
        browser.close()
    frames = game.stats.frames - frames0
    late = game.stats.late - late0
    phases = {p: round(sum(s["phases"][p]["share"] for s in samples) / len(samples), 4)
              for p in samples[-1]["phases"]}
    out = {
        "benchmark": "play_smooth", "minutes": args.minutes, "model": samples[-1]["model"],
        "frames": frames, "late": late, "late_share": round(late / max(1, frames), 5),
        "skipped": game.stats.skipped - skipped0,
        "frame_ms_p50": round(_pct(frame_ms, 0.5), 3), "frame_ms_p99": round(_pct(frame_ms, 0.99), 3),
        "frame_ms_max": round(max(frame_ms, default=0.0), 3),
        "phase_share_mean": phases,
        # the worst second of each phase: where a stall (a late frame) spends its time
        "phase_p99_ms_max": {p: max(s["phases"][p]["p99_ms"] for s in samples) for p in phases},
        "phase_max_ms": {p: max(s["phases"][p]["max_ms"] for s in samples) for p in phases},
        "idle_share_mean": round(sum(s["idle_share"] for s in samples) / len(samples), 4),
        "draw_fps_median": _pct([s["draw_fps"] for s in samples], 0.5),
        "cpu_cores_used": {"server": round(server_cpu / wall, 3), "browser": round(browser_cpu / wall, 3)},
        "cores": os.cpu_count(), "load_average_at_end": os.getloadavg(), "python": sys.version.split()[0],
        "machine": platform.machine(),
    }
    text = json.dumps(out, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
