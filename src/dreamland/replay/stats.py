"""`dreamland stats`: what a dataset holds, from its manifest alone (frames are never read)."""

from __future__ import annotations

from collections import Counter, defaultdict

from dreamland.replay.dataset import Dataset
from dreamland.schema.characters import name_of_external
from dreamland.schema import stages as st

# Column labels of the character x stage table: the legal stages by their usual short names.
SHORT = {
    st.FINAL_DESTINATION: "FD",
    st.BATTLEFIELD: "BF",
    st.YOSHIS_STORY: "YS",
    st.DREAM_LAND: "DL",
    st.FOUNTAIN_OF_DREAMS: "FoD",
    st.POKEMON_STADIUM: "PS",
}


def dataset_stats(dataset: Dataset) -> dict:
    rows = dataset.manifest().to_pylist()
    status = Counter(r["status"] for r in rows)
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] == "failed"]
    eligible = [r for r in ok if r["eligible"]]
    by_stage: dict[str, Counter] = defaultdict(Counter)
    for r in ok:
        stage = SHORT.get(r["stage"], "other")
        for ext in r["characters_external"] or []:
            by_stage[name_of_external(ext)][stage] += 1
    ineligible = Counter()
    for r in ok:
        for why in (r["ineligible_reason"] or "").split("; "):
            if why:
                ineligible[why] += 1
    return {
        "games_ok": status["ok"],
        "games_failed": status["failed"],
        "games_filtered": status["filtered"],
        "duplicates": status["duplicate"],
        "frames": sum(r["frames"] or 0 for r in ok),
        "eligible_games": len(eligible),
        "eligible_frames": sum(r["frames"] or 0 for r in eligible),
        "ineligible_reasons": dict(ineligible.most_common()),
        "failures_by_reason": dict(Counter(r["reason"] for r in failed).most_common()),
        "rollback_rows": sum(r["rollbacks"] or 0 for r in ok),
        "games_with_rollback": sum(1 for r in ok if r["rollbacks"]),
        "games_with_followers": sum(1 for r in ok if any(r["has_follower"] or [])),
        "item_records": sum(r["item_records"] or 0 for r in ok),
        "versions": dict(sorted(Counter(r["slippi_version"] for r in ok).items(), key=_vkey)),
        "failed_versions": dict(
            sorted(Counter(r["slippi_version"] or "?" for r in failed).items(), key=_vkey)
        ),
        "stages": dict(Counter(st.stage_name(r["stage"]) for r in ok).most_common()),
        "characters_by_stage": {c: dict(s) for c, s in sorted(by_stage.items())},
    }


def _vkey(item: tuple[str, int]):
    try:
        return tuple(int(x) for x in item[0].split("."))
    except (AttributeError, ValueError):
        return (999,)


def format_stats(s: dict) -> str:
    lines = [
        f"games ok        {s['games_ok']:>8}",
        f"games failed    {s['games_failed']:>8}",
        f"games filtered  {s['games_filtered']:>8}",
        f"duplicates      {s['duplicates']:>8}",
        f"frames          {s['frames']:>8}  ({s['frames'] / 216000:.1f} hours)",
        f"eligible        {s['eligible_games']:>8}  games, {s['eligible_frames']} frames",
        f"rollback rows   {s['rollback_rows']:>8}  in {s['games_with_rollback']} games",
        f"with followers  {s['games_with_followers']:>8}  (Ice Climbers)",
        f"item records    {s['item_records']:>8}",
    ]
    if s["failures_by_reason"]:
        lines.append("\nfailures by reason")
        lines += [f"  {n:>6}  {why}" for why, n in s["failures_by_reason"].items()]
    if s["ineligible_reasons"]:
        lines.append("\nnot eligible for training (a game may have several reasons)")
        lines += [f"  {n:>6}  {why}" for why, n in s["ineligible_reasons"].items()]
    lines.append("\nreplay versions (ok games)")
    lines += [f"  {v:<10} {n:>6}" for v, n in s["versions"].items()]
    present = {stage for counts in s["characters_by_stage"].values() for stage in counts}
    stages = [label for label in (*SHORT.values(), "other") if label in present]
    if stages:
        lines.append("\nstages (ok games)")
        lines += [f"  {name:<24} {n:>6}" for name, n in s["stages"].items()]
        lines.append("\nplayer slots: character x stage (ok games)")
        width = max(len(c) for c in s["characters_by_stage"]) if s["characters_by_stage"] else 10
        cols = [max(len(st), 5) + 2 for st in stages]
        lines.append(" " * (width + 2) + "".join(f"{h:>{w}}" for h, w in zip(stages, cols))
                     + f"{'total':>8}")
        order = sorted(s["characters_by_stage"].items(), key=lambda kv: -sum(kv[1].values()))
        for char, counts in order:
            cells = "".join(f"{counts.get(st, '') or '':>{w}}" for st, w in zip(stages, cols))
            lines.append(f"  {char:<{width}}{cells}{sum(counts.values()):>8}")
    return "\n".join(lines)
