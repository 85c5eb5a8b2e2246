"""Does a model's jump rise? The jump of tests/play/test_session.py, printed frame by frame.

Fox against Fox on Final Destination in a game started without a replay: ten idle frames, then X
held for four frames. Melee's answer: three frames of KNEE_BEND, then a jump whose y rises. A model
can get the actions right and the velocities wrong (docs/experiments.md, "The heads read the
table's proposal"):

    python benchmarks/jump_check.py runs/lheads-s0/checkpoints/step-00001000
    python benchmarks/jump_check.py            # the shipped model
"""

from __future__ import annotations

import argparse
import sys

from dreamland.play.controller import Controller
from dreamland.play.session import Session


def jump(checkpoint: str | None) -> list[tuple[str, float, bool]]:
    """(action name, y, on the ground) of player 1 on the 8 frames from the press."""
    session = Session(checkpoint, "final destination", ("fox", "fox"))
    session.reset()
    for _ in range(10):
        session.step()
    press = Controller().press_button("X")
    out = []
    for i in range(8):
        p = session.step(press if i < 4 else None).players[0]
        out.append((p.action_name, p.y, p.on_ground))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", nargs="?", help="a checkpoint folder (default: the shipped model)")
    args = ap.parse_args(argv)
    try:
        frames = jump(args.checkpoint)
    except Exception as exc:  # noqa: BLE001 - a bad checkpoint is one line, not a traceback
        sys.exit(f"error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    for i, (action, y, ground) in enumerate(frames):
        print(f"frame {i}: {action:<20} y {y:8.2f}  {'ground' if ground else 'air'}")
    airborne = [y for _, y, ground in frames if not ground]
    print("rises" if airborne and airborne[-1] > 1.0 else "does not rise")


if __name__ == "__main__":
    main()
