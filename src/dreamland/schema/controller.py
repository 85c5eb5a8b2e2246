"""The GameCube controller as Slippi records it and libmelee names it.

Bits of the processed button mask in Slippi's pre-frame event (Slippi replay spec, "Pre-Frame
Update": processed buttons), named as libmelee's `melee.enums.Button`. Sticks are -1..1 in a replay
and 0..1 (0.5 neutral) in libmelee's vocabulary; triggers are 0..1 in both.
"""

from __future__ import annotations

BUTTON_BITS: dict[str, int] = {
    "D_LEFT": 0x0001,
    "D_RIGHT": 0x0002,
    "D_DOWN": 0x0004,
    "D_UP": 0x0008,
    "Z": 0x0010,
    "R": 0x0020,
    "L": 0x0040,
    "A": 0x0100,
    "B": 0x0200,
    "X": 0x0400,
    "Y": 0x0800,
    "START": 0x1000,
}
BUTTONS: tuple[str, ...] = tuple(BUTTON_BITS)
STICKS: tuple[str, ...] = ("main_x", "main_y", "c_x", "c_y")


def stick_to_unit(value):
    """-1..1 (replay) -> 0..1 (libmelee), 0.5 neutral."""
    return (value + 1.0) * 0.5


def unit_to_stick(value):
    return value * 2.0 - 1.0
