"""Seeded starting points for rollouts: (game, first seed frame) such that the K seed frames and
the H future frames all lie inside one game, after the entry animation (frame -39 on, like the
training windows)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dreamland.data.store import Store
from dreamland.evaluate.errors import EvaluationError


@dataclass
class Starts:
    """`row[i]`: the store row of start i's first seed frame; `game[i]`: its game index."""

    game: np.ndarray  # (S,) int64
    row: np.ndarray  # (S,) int64
    offset: np.ndarray  # (S,) int64: frames from the game's first frame to the first seed frame
    context: int
    horizon: int
    games_used: int = 0
    games_skipped: int = 0  # games with fewer than K + H playable frames
    positions: int = 0  # possible starts in the games used

    def __len__(self) -> int:
        return len(self.row)

    def subset(self, idx: np.ndarray) -> "Starts":
        return Starts(self.game[idx], self.row[idx], self.offset[idx], self.context, self.horizon,
                      self.games_used, self.games_skipped, self.positions)

    def describe(self) -> dict:
        return {"starts": len(self), "games_used": self.games_used, "games_skipped_short": self.games_skipped,
                "possible_starts": self.positions}


def playable(store: Store, games: np.ndarray, include_pregame: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(first playable row, playable frames) of each game."""
    games = np.asarray(games, np.int64)
    start = store.start[games].astype(np.int64)
    length = store.length[games].astype(np.int64)
    if include_pregame:
        skip = np.zeros_like(length)
    else:
        skip = np.clip(store.index["actionable_offset"].to_numpy()[games].astype(np.int64), 0, None)
    return start + skip, np.maximum(length - skip, 0)


def choose_starts(store: Store, games: np.ndarray, context: int, horizon: int, count: int, seed: int,
                  include_pregame: bool = False) -> Starts:
    """`count` distinct starting points drawn uniformly (seeded) over every possible one; fewer
    when the games hold fewer. Games with fewer than K + H playable frames are skipped and
    counted; `EvaluationError` when no game is long enough."""
    if context < 1:
        raise EvaluationError(f"context K must be at least 1, got {context}")
    if horizon < 1:
        raise EvaluationError(f"horizon must be at least 1 frame, got {horizon}")
    if count < 1:
        raise EvaluationError(f"the number of starts must be at least 1, got {count}")
    games = np.asarray(games, np.int64)
    if len(games) == 0:
        raise EvaluationError("no games to evaluate (the split is empty)")
    first, frames = playable(store, games, include_pregame)
    need = context + horizon
    n_valid = frames - need + 1
    ok = n_valid > 0
    if not ok.any():
        raise EvaluationError(
            f"every game is shorter than K + H = {context} + {horizon} = {need} playable frames "
            f"(longest: {int(frames.max())}); use shorter horizons, a smaller K or longer games"
        )
    g, first, n_valid = games[ok], first[ok], n_valid[ok]
    cum = np.cumsum(n_valid)
    total = int(cum[-1])
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(total, size=min(count, total), replace=False))
    which = np.searchsorted(cum, pick, side="right")
    local = pick - (cum[which] - n_valid[which])
    game, row = g[which], first[which] + local
    return Starts(
        game=game, row=row, offset=row - store.start[game].astype(np.int64), context=context,
        horizon=horizon, games_used=int(ok.sum()), games_skipped=int((~ok).sum()), positions=total,
    )
