"""`dreamland compare REPORT_DIR...`: the headline figures of several evaluations side by side,
as a text table and a self-contained HTML page with plots."""

from __future__ import annotations

from html import escape
from pathlib import Path

from dreamland.evaluate.errors import EvaluationError
from dreamland.evaluate.run import load_metrics
from dreamland.evaluate.svg import PALETTE, STEPPER_COLORS, line_chart
from dreamland.steppers.baselines import BASELINE_NAMES

FIGURES = (("pos_mae", "position MAE (units)", True), ("action_acc", "action accuracy", False),
           ("action_change_acc", "action-change accuracy", False))


def _label(dirs: list[str]) -> list[str]:
    """Short unique names for the runs: the folder names, or their paths when those repeat."""
    names = [Path(d).name or str(d) for d in dirs]
    return names if len(set(names)) == len(names) else [str(d) for d in dirs]


def collect(report_dirs: list[str]) -> dict:
    """{"runs": [{"name", "path", "model", "headline", "meta"}], "horizons": [...], "rows": {figure:
    [(label, {h: value})]}}: each run's model, then every distinct baseline row."""
    if not report_dirs:
        raise EvaluationError("give at least one report folder to compare")
    runs = []
    for name, d in zip(_label([str(d) for d in report_dirs]), report_dirs):
        m = load_metrics(d)
        runs.append({"name": name, "path": str(d), "model": m["meta"].get("model"), "headline": m["headline"],
                     "meta": m["meta"]})
    horizons: list[str] = []
    for r in runs:
        for h in r["headline"].get("pos_mae", {}):
            if h not in horizons:
                horizons.append(h)
    horizons.sort(key=int)
    rows: dict[str, list] = {}
    for key, _, _ in FIGURES:
        out: list = []
        seen: set = set()
        for r in runs:
            out.append((r["name"], r["headline"].get(key, {}), "model"))
        for b in BASELINE_NAMES:
            distinct = []
            for r in runs:
                vals = r["headline"].get("baselines", {}).get(b, {}).get(key, {})
                sig = tuple(sorted((h, v) for h, v in vals.items()))
                if vals and sig not in seen:
                    seen.add(sig)
                    distinct.append((r["name"], vals))
            for name, vals in distinct:  # the run's name only where runs disagree (other starts)
                out.append((b if len(distinct) == 1 else f"{b} ({name})", vals, b))
        rows[key] = out
    return {"runs": runs, "horizons": horizons, "rows": rows}


def field_rows(report_dirs: list[str], horizon: str = "1") -> list[tuple[str, bool, list]]:
    """Per predicted field at `horizon` frames of the rollouts: (field, lower is better, [each
    run's value..., then each baseline of `BASELINE_NAMES`]). Continuous fields by mean absolute error (game
    units), categorical ones by accuracy; the baselines from the first report."""
    runs = [load_metrics(d)["rollout"] for d in report_dirs]
    first = runs[0]
    for d, r in zip(report_dirs, runs):
        known = list(r.get("model", {}).get("horizons", {}))
        if horizon not in known:
            raise EvaluationError(f"{d}: no rollout figures at horizon {horizon} (it has {', '.join(known) or 'none'})")
    rows = []
    for key, lower in (("fields_mae", True), ("categorical_acc", False)):
        for name in first["model"]["horizons"].get(horizon, {}).get(key, {}):
            values = [r["model"]["horizons"].get(horizon, {}).get(key, {}).get(name) for r in runs]
            values += [first.get(b, {}).get("horizons", {}).get(horizon, {}).get(key, {}).get(name) for b in BASELINE_NAMES]
            rows.append((name, lower, values))
    return rows


def format_fields(report_dirs: list[str], horizon: str = "1") -> str:
    """`field_rows` as text; a `*` marks a run that is worse than the best baseline."""
    names = _label([str(d) for d in report_dirs]) + list(BASELINE_NAMES)
    width = max(len(n) for n in names) + 2
    lines = [f"every field at {horizon} frame(s) (MAE, or accuracy for categorical fields; * = worse "
             "than the best baseline)", "  " + f"{'':<18}" + "".join(f"{n:>{width}}" for n in names)]
    for name, lower, values in field_rows(report_dirs, horizon):
        n_runs = len(values) - len(BASELINE_NAMES)
        base = [v for v in values[n_runs:] if v is not None]
        best = (min(base) if lower else max(base)) if base else None
        cells = []
        for i, v in enumerate(values):
            worse = i < n_runs and v is not None and best is not None and (v > best if lower else v < best)
            cells.append(f"{_cell(v)}{'*' if worse else ' '}")
        lines.append("  " + f"{name:<18}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines) + "\n"


def _cell(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def format_table(data: dict) -> str:
    hs = data["horizons"]
    width = max([len(label) for rows in data["rows"].values() for label, _, _ in rows] + [8])
    lines = []
    for key, label, _ in FIGURES:
        lines.append(f"{label} at horizon (frames)")
        lines.append(f"  {'':<{width}} " + " ".join(f"{h:>8}" for h in hs))
        for name, vals, _ in data["rows"][key]:
            lines.append(f"  {name:<{width}} " + " ".join(f"{_cell(vals.get(h)):>8}" for h in hs))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_html(data: dict) -> str:
    hs = [int(h) for h in data["horizons"]]
    charts = []
    for key, label, lower in FIGURES:
        series = []
        for i, (name, vals, kind) in enumerate(data["rows"][key]):
            series.append({"label": name, "x": hs, "y": [vals.get(str(h)) for h in hs],
                           "color": STEPPER_COLORS.get(kind) if kind != "model" else PALETTE[i % len(PALETTE)],
                           "dash": kind != "model"})
        charts.append(line_chart(label, series, xlabel="horizon (frames)", logx=True, xticks=hs,
                                 ylim=None if lower else (0.0, 1.0), width=460))
    tables = []
    for key, label, lower in FIGURES:
        head = "".join(f"<th>{h}</th>" for h in hs)
        body = []
        for name, vals, _ in data["rows"][key]:
            body.append(f"<tr><td>{escape(name)}</td>" + "".join(f"<td>{_cell(vals.get(str(h)))}</td>" for h in hs)
                        + "</tr>")
        tables.append(f"<h3>{escape(label)}</h3><table><tr><th></th>{head}</tr>{''.join(body)}</table>")
    runs = "".join(f"<tr><td>{escape(r['name'])}</td><td>{escape(str(r['meta'].get('checkpoint', r['model'])))}</td>"
                   f"<td>{escape(str(r['meta'].get('store', r['meta'].get('replays', ''))))}</td>"
                   f"<td>{r['meta'].get('starts')}</td><td>{r['meta'].get('context')}</td>"
                   f"<td>{r['meta'].get('seed')}</td></tr>" for r in data["runs"])
    css = ("body{font-family:sans-serif;margin:24px}table{border-collapse:collapse;font-size:13px;margin:6px 0 14px}"
           "td,th{border:1px solid #ddd;padding:3px 7px;text-align:right}td:first-child{text-align:left}"
           "th{background:#f4f4f4}.charts{display:flex;flex-wrap:wrap;gap:10px}")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>dreamland comparison</title>"
            f"<style>{css}</style></head><body><h1>dreamland comparison</h1>"
            "<table><tr><th>run</th><th>model</th><th>data</th><th>starts</th><th>K</th><th>seed</th></tr>"
            f"{runs}</table><div class='charts'>{''.join(charts)}</div>{''.join(tables)}</body></html>\n")


def compare(report_dirs: list[str], out_html: str | Path | None = None) -> tuple[str, dict]:
    """(text table, collected data); writes the HTML page to `out_html` when given."""
    data = collect(report_dirs)
    if out_html is not None:
        path = Path(out_html)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_html(data), encoding="utf-8")
        except OSError as exc:
            raise EvaluationError(f"{out_html}: cannot write the comparison ({exc.strerror})") from None
    return format_table(data), data
