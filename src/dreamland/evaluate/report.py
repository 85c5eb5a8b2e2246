"""REPORT_DIR/report.html: one self-contained page (inline SVG, inline CSS, no script, no network)
rendered from metrics.json alone, so a report can be re-rendered or compared later."""

from __future__ import annotations

from html import escape

from dreamland.evaluate.svg import bar_chart, color_of, line_chart, stage_plot

CSS = """
body{font-family:sans-serif;margin:24px;max-width:1300px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:15px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}.best{font-weight:bold;background:#eaf6ea}
.charts{display:flex;flex-wrap:wrap;gap:10px}.note{color:#666;font-size:12px}
"""

LOWER_IS_BETTER = {"pos_mae", "pos_dist", "vel_mae", "percent_mae", "shield_mae"}
ROLLOUT_ROWS = (
    ("pos_mae", "position MAE (units)"),
    ("pos_dist", "position distance (units)"),
    ("vel_mae", "velocity MAE (units/frame)"),
    ("percent_mae", "percent MAE"),
    ("shield_mae", "shield MAE"),
    ("action_acc", "action accuracy"),
    ("action_change_acc", "action-change accuracy"),
    ("on_ground_acc", "on-ground agreement"),
    ("stock_acc", "stock agreement"),
)


def _v(x, digits: int = 3) -> str:
    if x is None:
        return "&ndash;"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return escape(str(x))


def _table(header: list[str], rows: list[list]) -> str:
    """Rows are lists of cells: HTML strings, or numbers (formatted)."""
    out = ["<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td>{c if isinstance(c, str) else _v(c)}</td>" for c in r) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _compare_cells(values: list, lower: bool) -> list[str]:
    """Cells for one figure across steppers, the best highlighted."""
    nums = [v for v in values if isinstance(v, (int, float))]
    best = (min(nums) if lower else max(nums)) if nums else None
    return [f'<span class="best">{_v(v)}</span>' if v is not None and v == best and len(nums) > 1 else _v(v)
            for v in values]


def _steppers(m: dict) -> list[str]:
    return list(m["rollout"])


SHORT = {"constant_velocity": "c.vel."}


def _wide(m: dict, rows: list[tuple[str, bool]], get) -> str:
    """A table with one row per figure and, for each horizon, one column per stepper.
    `rows`: (label, lower is better); `get(row index, stepper, horizon) -> value`."""
    names = _steppers(m)
    hs = m["meta"]["horizons"]
    head1 = "<tr><th rowspan='2'>figure</th>" + "".join(
        f"<th colspan='{len(names)}'>@ {h}</th>" for h in hs) + "</tr>"
    head2 = "<tr>" + "".join(f"<th>{escape(SHORT.get(n, n))}</th>" for _ in hs for n in names) + "</tr>"
    body = []
    for i, (label, lower) in enumerate(rows):
        cells = []
        for h in hs:
            cells += _compare_cells([get(i, n, str(h)) for n in names], lower)
        body.append(f"<tr><td>{escape(label)}</td>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table>{head1}{head2}{''.join(body)}</table>"


def _section_meta(m: dict) -> str:
    meta = m["meta"]
    keys = ("checkpoint", "model", "store", "split", "replays", "replays_seen", "replays_failed", "failures_by_reason", "games", "games_used",
            "games_skipped_short", "starts", "context", "horizons", "seed", "tolerance",
            "teacher_forced_positions", "probe_positions", "device", "seconds", "dreamland", "created")
    rows = [[escape(k), escape(str(meta[k]))] for k in keys if k in meta]
    return "<h2 id='setup'>Setup</h2>" + _table(["", ""], rows)


def _section_headline(m: dict) -> str:
    names = _steppers(m)
    keys = ROLLOUT_ROWS[:1] + ROLLOUT_ROWS[5:7]
    table = _wide(m, [(label, k in LOWER_IS_BETTER) for k, label in keys],
                  lambda i, n, h: m["rollout"][n]["horizons"].get(h, {}).get(keys[i][0]))
    return f"<h2 id='headline'>Headline</h2><p class='note'>Steppers: {escape(', '.join(names))}.</p>" + table


def _section_rollouts(m: dict) -> str:
    names = _steppers(m)
    hs = m["meta"]["horizons"]
    parts = ["<h2 id='rollouts'>Rollouts</h2><p class='note'>From each start, K real frames seed the stepper, "
             "then it runs on its own output driven by the real controllers of both players. Each figure is "
             "measured on frame h after the seed; best per row in bold.</p>"]
    charts = []
    for key, label in ROLLOUT_ROWS:
        series = [{"label": n, "x": hs, "y": [m["rollout"][n]["horizons"].get(str(h), {}).get(key) for h in hs],
                   "color": color_of(n, i), "dash": n != m["meta"]["model"]} for i, n in enumerate(names)]
        acc = key.endswith("acc")
        charts.append(line_chart(label, series, xlabel="horizon (frames)", logx=True, xticks=hs,
                                 ylim=(0.0, 1.0) if acc else None))
    for key, label in (("pos_mae", "position MAE, every frame"), ("action_acc", "action accuracy, every frame")):
        series = []
        for i, n in enumerate(names):
            ys = m["rollout"][n]["curves"][key]
            series.append({"label": n, "x": list(range(1, len(ys) + 1)), "y": ys, "color": color_of(n, i),
                           "dash": n != m["meta"]["model"], "marker": False})
        charts.append(line_chart(label, series, xlabel="frame", logx=True,
                                 ylim=(0.0, 1.0) if key.endswith("acc") else None))
    parts.append("<div class='charts'>" + "".join(charts) + "</div>")
    parts.append(_wide(m, [(label, k in LOWER_IS_BETTER) for k, label in ROLLOUT_ROWS],
                       lambda i, n, h: m["rollout"][n]["horizons"].get(h, {}).get(ROLLOUT_ROWS[i][0])))
    fields = list(m["rollout"][names[0]]["horizons"][str(hs[0])]["fields_mae"])
    parts.append("<h3>Every continuous field (MAE, game units)</h3>")
    parts.append(_wide(m, [(f, True) for f in fields],
                       lambda i, n, h: m["rollout"][n]["horizons"].get(h, {}).get("fields_mae", {}).get(fields[i])))
    cats = list(m["rollout"][names[0]]["horizons"][str(hs[0])]["categorical_acc"])
    parts.append("<h3>Every categorical field (accuracy)</h3>")
    parts.append(_wide(m, [(f, False) for f in cats],
                       lambda i, n, h: m["rollout"][n]["horizons"].get(h, {}).get("categorical_acc", {}).get(cats[i])))
    mid = str(20 if 20 in hs else hs[len(hs) // 2])
    groups = list(m["rollout"][names[0]]["horizons"][mid]["category_acc"])
    series = [{"label": n, "values": [m["rollout"][n]["horizons"][mid]["category_acc"][g] for g in groups],
               "color": color_of(n, i)} for i, n in enumerate(names)]
    parts.append(bar_chart(f"action accuracy per category of the real action, rollouts at {mid} frames",
                           groups, series, ylabel="accuracy"))
    return "".join(parts)


def _section_events(m: dict) -> str:
    names = _steppers(m)
    hs = m["meta"]["horizons"]
    tol = m["meta"].get("tolerance")
    rows = []
    for ev in ("stock_lost", "respawn", "hit"):
        for h in hs:
            cells = []
            for n in names:
                e = m["rollout"][n]["horizons"].get(str(h), {}).get("events", {}).get(ev)
                cells.append("&ndash;" if e is None else
                             f"{_v(e['f1'])} <span class='note'>(P {_v(e['precision'], 2)}, R {_v(e['recall'], 2)}; "
                             f"{e['predicted']} pred / {e['real']} real)</span>")
            rows.append([f"{ev} @ {h}"] + cells)
    return (f"<h2 id='events'>Events</h2><p class='note'>Events up to frame h, matched to the real ones of the same "
            f"player within &plusmn;{tol} frames. F1 (precision, recall; counts).</p>" + _table(["event"] + names, rows))


def _section_items(m: dict) -> str:
    keys = (("exist_acc", "existence accuracy (all slots)", False), ("exist_iou", "existence IoU", False),
            ("pos_mae", "position MAE (both exist)", True))
    return "<h2 id='items'>Items</h2>" + _wide(
        m, [(label, lower) for _, label, lower in keys],
        lambda i, n, h: m["rollout"][n]["horizons"].get(h, {}).get("items", {}).get(keys[i][0]))


def _section_plausibility(m: dict) -> str:
    names = _steppers(m)
    cols = names + ["real game"]
    src = [m["rollout"][n]["plausibility"] for n in names] + [m["real"]["plausibility"]]
    rows = []
    for key, label in (("outside_blast_zones", "outside the blast zones, not dying"),
                       ("stocks_rising", "stocks rising"),
                       ("percent_falling", "percent falling without a respawn"),
                       ("airborne_contradicts_action", "airborne flag contradicts the action")):
        rows.append([label] + [f"{p[key]['count']} <span class='note'>({_v(p[key]['rate'], 5)} of player-frames, "
                               f"{_v(p[key]['rollouts'], 3)} of rollouts)</span>" for p in src])
    rows.append(["NaN values"] + [_v(p.get("nan_values")) for p in src])
    rows.append(["frames with a NaN"] + [_v(p.get("nan_frames")) for p in src])
    rows.append(["player-frames checked"] + [_v(p["player_frames"]) for p in src])
    return ("<h2 id='plausibility'>Plausibility</h2><p class='note'>Over every predicted frame of every rollout; "
            "the real game's own frames for reference.</p>" + _table(["check"] + cols, rows))


def _section_teacher_forced(m: dict) -> str:
    tf = m.get("teacher_forced") or {}
    if not tf:
        return ""
    names = list(tf)
    model = m["meta"]["model"]
    parts = [f"<h2 id='teacher-forced'>Teacher-forced (one step from K real frames, "
             f"{m['meta'].get('teacher_forced_positions')} positions)</h2>"]
    rows = []
    for key, label in ROLLOUT_ROWS:
        rows.append([label] + _compare_cells([tf[n].get(key) for n in names], key in LOWER_IS_BETTER))
    parts.append(_table(["figure"] + names, rows))
    first = tf[names[0]]
    rows = [[f] + _compare_cells([tf[n]["fields_mae"].get(f) for n in names], True) for f in first["fields_mae"]]
    parts.append("<h3>Every continuous field (MAE, game units)</h3>" + _table(["field"] + names, rows))
    rows = [[f] + _compare_cells([tf[n]["categorical_acc"].get(f) for n in names], False)
            for f in first["categorical_acc"]]
    parts.append("<h3>Every categorical field (accuracy)</h3>" + _table(["field"] + names, rows))
    groups = list(first["actions"]["per_category"])
    series = [{"label": n, "values": [tf[n]["actions"]["per_category"][g]["acc"] for g in groups],
               "color": color_of(n, i)} for i, n in enumerate(names)]
    parts.append("<h3 id='categories'>Accuracy per action category</h3>")
    parts.append(bar_chart("teacher-forced action accuracy per category", groups, series, ylabel="accuracy"))
    series = [{"label": n, "values": [tf[n]["action_change_breakdown"][g]["acc"] for g in groups],
               "color": color_of(n, i)} for i, n in enumerate(names)]
    parts.append(bar_chart("teacher-forced action-change accuracy per category", groups, series, ylabel="accuracy"))
    rows = [[g, first["actions"]["per_category"][g]["frames"]]
            + _compare_cells([tf[n]["actions"]["per_category"][g]["acc"] for n in names], False) for g in groups]
    parts.append(_table(["category", "frames"] + names, rows))
    if model in tf:
        worst = tf[model]["actions"]["worst"]
        rows = [[escape(w["name"]), w["category"], w["frames"], w["errors"], w["acc"]] for w in worst]
        parts.append(f"<h3 id='worst-actions'>Worst actions of {escape(model)} (by error count)</h3>"
                     + _table(["action", "category", "frames", "errors", "accuracy"], rows))
    return "".join(parts)


def _section_probe(m: dict) -> str:
    pr = m.get("probe") or {}
    if not pr:
        return ""
    names = list(pr)
    probes = [k for k in pr[names[0]] if isinstance(pr[names[0]][k], dict)]
    rows = []
    for p in probes:
        rows.append([p] + [f"{_v(pr[n][p]['responded'])} <span class='note'>(neutral input: "
                           f"{_v(pr[n][p]['responded_neutral'])})</span>" for n in names])
    rows.append(["mean"] + [_v(pr[n]["mean_responded"]) for n in names])
    return ("<h2 id='probe'>Controllability probe</h2><p class='note'>Share of positions (a player free to act on "
            "the ground) where the predicted state responds to a scripted input the way the game does; in "
            "brackets, the share showing the same response with a neutral controller. The game responds to "
            f"every script; {pr[names[0]]['positions']} positions, {pr[names[0]]['frames']} frames each.</p>"
            + _table(["probe"] + names, rows))


def _section_trajectories(m: dict) -> str:
    from dreamland.schema.characters import name_of_internal
    from dreamland.schema.stages import geometry

    draws = m.get("trajectories") or []
    if not draws:
        return ""
    model = m["meta"]["model"]
    parts = ["<h2 id='trajectories'>Trajectories</h2><p class='note'>Real (solid) and predicted (dashed, "
             f"{escape(model)}) positions of both players over the stage, from the seed frame (dot); "
             "&times; a real stock loss, &#9675; a predicted one.</p><div class='charts'>"]
    colors = (("#d62728", "#ff9896"), ("#1f77b4", "#9ecae1"))
    for d in draws:
        try:
            geo = geometry(d["stage"])
        except KeyError:
            geo = None
        tracks = []
        for p in (0, 1):
            try:
                who = name_of_internal(d["characters"][p])
            except (KeyError, ValueError, IndexError):
                who = f"player {p}"
            real, pred = d["real"], d[model]
            tracks.append({"label": f"{who} (real)", "x": real["x"][p], "y": real["y"][p], "color": colors[p][0], "frame": True,
                           "marks": [t for q, t in real["stock_lost"] if q == p], "mark": "x"})
            tracks.append({"label": f"{who} ({model})", "x": pred["x"][p], "y": pred["y"][p], "color": colors[p][1],
                           "dash": True, "marks": [t for q, t in pred["stock_lost"] if q == p], "mark": "o"})
        title = f"{d.get('source') or 'game ' + str(d['game'])}, frame {d['frame']}, {len(d['real']['x'][0]) - 1} frames"
        parts.append(stage_plot(title, geo, tracks))
    parts.append("</div>")
    return "".join(parts)


def render_html(m: dict) -> str:
    """The whole report page."""
    title = f"dreamland evaluation: {m['meta'].get('checkpoint', m['meta']['model'])}"
    body = "".join([
        f"<h1>{escape(title)}</h1>",
        _section_meta(m),
        _section_headline(m),
        _section_rollouts(m),
        _section_events(m),
        _section_items(m),
        _section_plausibility(m),
        _section_teacher_forced(m),
        _section_probe(m),
        _section_trajectories(m),
    ])
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>\n")
