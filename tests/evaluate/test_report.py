"""The report page and the comparison of reports."""

from __future__ import annotations

import copy
import json
import re

from dreamland.evaluate.compare import collect, compare, format_table
from dreamland.evaluate.report import render_html
from dreamland.evaluate.rollout import rollout_batch
from dreamland.evaluate import metrics as M
from dreamland.steppers.baselines import ConstantVelocityStepper, HoldStepper
from dreamland.evaluate.run import FORMAT, FORMAT_VERSION, write_report
from tests.evaluate.helpers import straight_line

SECTIONS = ("setup", "headline", "rollouts", "events", "items", "plausibility", "teacher-forced", "categories",
            "worst-actions", "probe", "trajectories")


def _hand_made_metrics() -> dict:
    """A small metrics dict from hand-made rollouts (no store needed)."""
    batch = straight_line(3, 4 + 20, 1.0)
    batch["player_wide"][:, 10:, 0, 0] = 20  # a dash: an action change the baselines miss
    hs = (1, 5, 20)
    rollouts, tf, probe = {}, {}, {}
    for name, st in (("model", ConstantVelocityStepper()), ("hold", HoldStepper()),
                     ("constant_velocity", ConstantVelocityStepper())):
        res = rollout_batch(st, batch, 4, 20)
        rollouts[name] = M.rollout_metrics(res, hs)
        tf[name] = M.teacher_forced_metrics(res)
        probe[name] = {"positions": 3, "frames": 20, "mean_responded": 0.0,
                       **{p: {"n": 3, "responded": 0.0, "responded_neutral": 0.0} for p in ("jump", "shield")}}
    first = rollout_batch(HoldStepper(), batch, 4, 20)
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "meta": {"model": "model", "checkpoint": "hand-made <&>", "horizons": list(hs), "tolerance": 5,
                 "starts": 3, "context": 4, "seed": 0, "teacher_forced_positions": 3},
        "headline": M.headline(rollouts),
        "rollout": rollouts, "teacher_forced": tf, "probe": probe,
        "real": {"plausibility": M.plausibility(first.real, first.stage)},
        "trajectories": [{"start": 0, "game": -1, "frame": 0, "stage": 32, "characters": [2, 1],
                          "real": {"x": [[0, 1, 2], [0, 1, 2]], "y": [[0, 1, 2], [5, 5, 5]], "stock_lost": [[0, 2]]},
                          "model": {"x": [[0, 1, None], [0, 1, 2]], "y": [[0, 1, None], [5, 5, 5]],
                                    "stock_lost": []}}],
    }


def test_report_renders_every_section(tmp_path):
    m = _hand_made_metrics()
    write_report(m, tmp_path)
    html = (tmp_path / "report.html").read_text()
    for s in SECTIONS:
        assert f"id='{s}'" in html, s
    assert html.count("<svg") >= 10
    assert "hand-made &lt;&amp;&gt;" in html  # escaped
    assert not re.search(r"<script|https?://(?!www\.w3\.org/2000/svg)", html)  # self-contained
    assert json.loads((tmp_path / "metrics.json").read_text())["headline"] == m["headline"]


def test_report_without_optional_parts():
    m = _hand_made_metrics()
    m["teacher_forced"], m["probe"], m["trajectories"] = {}, {}, []
    html = render_html(m)
    assert "id='rollouts'" in html and "id='probe'" not in html and "id='teacher-forced'" not in html


def test_compare_two_reports(tmp_path):
    a = _hand_made_metrics()
    b = copy.deepcopy(a)
    b["headline"]["pos_mae"] = {k: v + 1 for k, v in a["headline"]["pos_mae"].items()}
    write_report(a, tmp_path / "run-a")
    write_report(b, tmp_path / "run-b")
    text, data = compare([str(tmp_path / "run-a"), str(tmp_path / "run-b")], tmp_path / "cmp.html")
    assert [r["name"] for r in data["runs"]] == ["run-a", "run-b"]
    assert data["horizons"] == ["1", "5", "20"]
    # the baselines are the same in both runs: shown once
    assert [label for label, _, _ in data["rows"]["pos_mae"]] == ["run-a", "run-b", "hold", "constant_velocity"]
    line_a = next(line for line in text.splitlines() if line.strip().startswith("run-a"))
    assert f"{a['headline']['pos_mae']['5']:.3f}" in line_a
    assert (tmp_path / "cmp.html").read_text().count("<svg") == 3
    assert format_table(collect([str(tmp_path / "run-a")])).count("run-a") == 3


def test_field_table_marks_fields_worse_than_the_better_baseline(tmp_path):
    """The hand-made "model" is constant velocity: equal to that baseline on every field (no mark);
    a copy whose x error is raised above both baselines gets a mark on x only."""
    from dreamland.evaluate.compare import field_rows, format_fields

    a = _hand_made_metrics()
    b = copy.deepcopy(a)
    b["rollout"]["model"]["horizons"]["1"]["fields_mae"]["x"] = 99.0
    b["rollout"]["model"]["horizons"]["1"]["categorical_acc"]["action"] = 0.0
    write_report(a, tmp_path / "run-a")
    write_report(b, tmp_path / "run-b")
    rows = {name: (lower, values) for name, lower, values in field_rows([str(tmp_path / "run-a"), str(tmp_path / "run-b")])}
    assert rows["x"][0] and not rows["action"][0]  # errors lower, accuracies higher is better
    assert rows["x"][1][1] == 99.0 and len(rows["x"][1]) == 5  # two runs, then hold, constant velocity, lookup
    text = format_fields([str(tmp_path / "run-a"), str(tmp_path / "run-b")])
    marked = {line.split()[0] for line in text.splitlines()[2:] if "*" in line}
    assert marked == {"x", "action"}
    x_line = next(line for line in text.splitlines() if line.split()[0] == "x")
    assert x_line.count("*") == 1 and "99.000*" in x_line
