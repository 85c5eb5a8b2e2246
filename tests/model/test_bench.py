"""The benchmark library runs (a smoke test; timings are never asserted)."""

from __future__ import annotations

from dreamland.model.bench import bench_step, format_table, model_info


def test_model_info_counts_parts():
    info = model_info("small")
    assert info["params"] == sum(info["parts"].values())
    assert set(info["parts"]) == {"encoder", "backbone", "heads"}


def test_bench_step_smoke():
    r = bench_step("tiny", batch_sizes=(1, 2), threads=1, compiled=False, frames=5, warmup=1, window_frames=3)
    assert {"p50_ms", "p99_ms", "params", "results", "window", "speedup"} <= set(r)
    assert [x["batch"] for x in r["results"]] == [1, 2]
    assert "window re-encode" in format_table(r)
