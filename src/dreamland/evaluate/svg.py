"""Tiny inline-SVG charts for the reports: no plotting library, no network, no scripts."""

from __future__ import annotations

import itertools
import math
from html import escape

PALETTE = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
_IDS = itertools.count()
TELEPORT = 40.0  # game units in one frame: a respawn, not a movement
STEPPER_COLORS = {"hold": "#888888", "constant_velocity": "#bcbd22", "real": "#000000"}


def color_of(name: str, i: int) -> str:
    return STEPPER_COLORS.get(name, PALETTE[i % len(PALETTE)])


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000 or a < 0.01:
        return f"{v:.2g}"
    if a >= 10:
        return f"{v:.0f}"
    return f"{v:.2f}".rstrip("0").rstrip(".")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi):
        return []
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def line_chart(title: str, series: list[dict], *, xlabel: str = "", ylabel: str = "", logx: bool = False,
               width: int = 420, height: int = 260, ylim: tuple[float, float] | None = None,
               xticks: list[float] | None = None) -> str:
    """`series`: [{"label", "x": [...], "y": [... or None], "color", "dash": bool, "marker": bool}]."""
    ml, mr, mt, mb = 52, 10, 26, 40
    legend, legend_h = _legend_layout([s["label"] for s in series], ml, height + 8, width)
    height += legend_h
    pts = [(x, y) for s in series for x, y in zip(s["x"], s["y"]) if y is not None and math.isfinite(y)]
    if not pts:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60"><text x="5" y="20" ' \
               f'font-size="13">{escape(title)}: no data</text></svg>'
    fx = (lambda v: math.log10(v)) if logx else (lambda v: v)
    xs = [fx(x) for x, _ in pts]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = ylim if ylim else (min(0.0, min(y for _, y in pts)), max(y for _, y in pts))
    if y1 == y0:
        y1 = y0 + 1
    pw, ph = width - ml - mr, height - legend_h - mt - mb

    def px(x):
        return ml + (fx(x) - x0) / (x1 - x0) * pw

    def py(y):
        return mt + ph - (min(max(y, y0), y1) - y0) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="11"><text x="{width / 2}" y="15" text-anchor="middle" font-size="13">{escape(title)}</text>',
           f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#ccc"/>']
    for t in _ticks(y0, y1):
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#eee"/>'
                   f'<text x="{ml - 4}" y="{py(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    if xticks is None:
        xticks = [10 ** e for e in range(math.floor(x0), math.ceil(x1) + 1)] if logx else _ticks(x0, x1)
    for t in xticks:
        if x0 - 1e-9 <= fx(t) <= x1 + 1e-9:
            out.append(f'<text x="{px(t):.1f}" y="{mt + ph + 14}" text-anchor="middle">{_fmt(t)}</text>')
    out.append(f'<text x="{ml + pw / 2}" y="{mt + ph + 30}" text-anchor="middle">{escape(xlabel)}</text>')
    out.append(f'<text x="12" y="{mt + ph / 2}" text-anchor="middle" transform="rotate(-90 12 {mt + ph / 2})">'
               f'{escape(ylabel)}</text>')
    for i, s in enumerate(series):
        c = s.get("color") or PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="5,3"' if s.get("dash") else ""
        path, pen = [], "M"
        for x, y in zip(s["x"], s["y"]):
            if y is None or not math.isfinite(y):
                pen = "M"
                continue
            path.append(f"{pen}{px(x):.1f},{py(y):.1f}")
            pen = "L"
        if path:
            out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{c}" stroke-width="1.8"{dash}/>')
        if s.get("marker", True) and len(s["x"]) <= 20:
            for x, y in zip(s["x"], s["y"]):
                if y is not None and math.isfinite(y):
                    out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{c}"/>')
        lx, ly = legend[i]
        out.append(f'<line x1="{lx}" x2="{lx + 18}" y1="{ly - 4}" y2="{ly - 4}" stroke="{c}" stroke-width="2"{dash}/>'
                   f'<text x="{lx + 22}" y="{ly}">{escape(s["label"])}</text>')
    out.append("</svg>")
    return "".join(out)


def _legend_layout(labels: list[str], left: int, top: int, width: int) -> tuple[list[tuple[int, int]], int]:
    """Positions of legend entries in rows under a chart, and the height they take."""
    pos, x, y = [], left, top
    for label in labels:
        w = 30 + 6 * len(label)
        if x + w > width and x > left:
            x, y = left, y + 14
        pos.append((x, y))
        x += w + 10
    return pos, (y - top + 14) if labels else 0


def bar_chart(title: str, groups: list[str], series: list[dict], *, ylabel: str = "", width: int = 760,
              height: int = 260, ylim: tuple[float, float] = (0.0, 1.0)) -> str:
    """Grouped bars: `series` [{"label", "values": [per group, None allowed], "color"}]."""
    ml, mr, mt, mb = 44, 10, 42, 58
    pw, ph = width - ml - mr, height - mt - mb
    y0, y1 = ylim
    n = max(1, len(series))
    gw = pw / max(1, len(groups))
    bw = gw * 0.8 / n

    def py(v):
        return mt + ph - (min(max(v, y0), y1) - y0) / (y1 - y0) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="11"><text x="{width / 2}" y="15" text-anchor="middle" font-size="13">{escape(title)}</text>']
    for t in _ticks(y0, y1):
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#eee"/>'
                   f'<text x="{ml - 4}" y="{py(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    for g, name in enumerate(groups):
        gx = ml + g * gw + gw * 0.1
        for i, s in enumerate(series):
            v = s["values"][g]
            if v is None:
                continue
            c = s.get("color") or PALETTE[i % len(PALETTE)]
            out.append(f'<rect x="{gx + i * bw:.1f}" y="{py(v):.1f}" width="{bw:.1f}" height="{py(y0) - py(v):.1f}" '
                       f'fill="{c}"><title>{escape(s["label"])} {escape(name)}: {v:.3f}</title></rect>')
        cx = ml + g * gw + gw / 2
        out.append(f'<text x="{cx:.1f}" y="{mt + ph + 12}" text-anchor="end" '
                   f'transform="rotate(-30 {cx:.1f} {mt + ph + 12})">{escape(name)}</text>')
    for i, s in enumerate(series):
        c = s.get("color") or PALETTE[i % len(PALETTE)]
        lx = ml + 8 + 130 * i
        out.append(f'<rect x="{lx}" y="{mt - 20}" width="10" height="10" fill="{c}"/>'
                   f'<text x="{lx + 14}" y="{mt - 11}">{escape(s["label"])}</text>')
    out.append(f'<text x="12" y="{mt + ph / 2}" text-anchor="middle" transform="rotate(-90 12 {mt + ph / 2})">'
               f'{escape(ylabel)}</text></svg>')
    return "".join(out)


def stage_plot(title: str, geometry, tracks: list[dict], *, width: int = 520) -> str:
    """Trajectories over a stage. `geometry`: schema.stages.StageGeometry or None; `tracks`:
    [{"label", "x": [...], "y": [...], "color", "dash", "marks": [frame index...], "mark": "x"|"o",
    "frame": bool (sets the view when there is no geometry)}]. The view is the blast zones (plus a
    margin); whatever flies beyond is clipped."""
    if geometry is not None:
        x0, x1, y1, y0 = geometry.blast_zones
    else:
        pick = [t for t in tracks if t.get("frame")] or tracks
        xs = [v for t in pick for v in t["x"] if v is not None and math.isfinite(v)]
        ys = [v for t in pick for v in t["y"] if v is not None and math.isfinite(v)]
        if not xs:
            return ""
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    pad = 0.06 * max(x1 - x0, y1 - y0, 1)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    mt = 22
    scale = width / (x1 - x0)
    plot_h = (y1 - y0) * scale
    legend, legend_h = _legend_layout([t["label"] for t in tracks], 4, int(mt + plot_h + 16), width)
    uid = next(_IDS)

    def px(x):
        return (x - x0) * scale

    def py(y):
        return mt + (y1 - y) * scale

    h = int(mt + plot_h + legend_h + 8)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{h}" font-family="sans-serif" '
           f'font-size="11"><text x="4" y="14" font-size="12">{escape(title)}</text>'
           f'<defs><clipPath id="stage{uid}"><rect x="0" y="{mt}" width="{width}" height="{plot_h:.1f}"/></clipPath>'
           f'</defs><rect x="0" y="{mt}" width="{width}" height="{plot_h:.1f}" fill="none" stroke="#ddd"/>'
           f'<g clip-path="url(#stage{uid})">']
    if geometry is not None:
        l, r, top, bottom = geometry.blast_zones
        out.append(f'<rect x="{px(l):.1f}" y="{py(top):.1f}" width="{px(r) - px(l):.1f}" height="{py(bottom) - py(top):.1f}" '
                   f'fill="#f7f7ff" stroke="#99c" stroke-dasharray="4,3"><title>blast zones</title></rect>')
        gx, gy = geometry.ground_x, geometry.ground_y
        out.append(f'<polygon points="{px(-gx):.1f},{py(gy):.1f} {px(gx):.1f},{py(gy):.1f} {px(gx * 0.8):.1f},'
                   f'{py(gy - 30):.1f} {px(-gx * 0.8):.1f},{py(gy - 30):.1f}" fill="#ddd" stroke="#777"/>')
        for p in geometry.platforms:
            out.append(f'<line x1="{px(p.left):.1f}" x2="{px(p.right):.1f}" y1="{py(p.y):.1f}" y2="{py(p.y):.1f}" '
                       f'stroke="#777" stroke-width="3"/>')
    for i, t in enumerate(tracks):
        c = t.get("color") or PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="5,3"' if t.get("dash") else ""
        path, pen, last = [], "M", None
        for x, y in zip(t["x"], t["y"]):
            if x is None or y is None or not (math.isfinite(x) and math.isfinite(y)):
                pen = "M"
                continue
            if last is not None and math.hypot(x - last[0], y - last[1]) > TELEPORT:
                pen = "M"  # a respawn: no line from the blast zone to the platform
            path.append(f"{pen}{px(x):.1f},{py(y):.1f}")
            pen, last = "L", (x, y)
        if path:
            out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{c}" stroke-width="1.6"{dash} '
                       f'opacity="0.9"/>')
            first = path[0][1:].split(",")
            out.append(f'<circle cx="{first[0]}" cy="{first[1]}" r="3" fill="{c}"/>')
        for k in t.get("marks", []):
            if k < len(t["x"]) and t["x"][k] is not None and t["y"][k] is not None:
                mx, my = px(t["x"][k]), py(t["y"][k])
                if t.get("mark", "x") == "x":
                    out.append(f'<path d="M{mx - 6:.1f},{my - 6:.1f}L{mx + 6:.1f},{my + 6:.1f}M{mx - 6:.1f},{my + 6:.1f}'
                               f'L{mx + 6:.1f},{my - 6:.1f}" stroke="{c}" stroke-width="2.5"><title>stock lost</title></path>')
                else:
                    out.append(f'<circle cx="{mx:.1f}" cy="{my:.1f}" r="6" fill="none" stroke="{c}" stroke-width="2">'
                               f'<title>stock lost (predicted)</title></circle>')
    out.append("</g>")
    for i, t in enumerate(tracks):
        c = t.get("color") or PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="5,3"' if t.get("dash") else ""
        lx, ly = legend[i]
        out.append(f'<line x1="{lx}" x2="{lx + 18}" y1="{ly - 4}" y2="{ly - 4}" stroke="{c}" stroke-width="2"{dash}/>'
                   f'<text x="{lx + 22}" y="{ly}">{escape(t["label"])}</text>')
    out.append("</svg>")
    return "".join(out)
