"""A GameCube controller in libmelee's vocabulary, and its model tensor.

libmelee (`melee.controller.Controller`) drives a real Melee with `press_button(Button.BUTTON_A)`,
`release_button(...)`, `tilt_analog(Button.BUTTON_MAIN, x, y)`, `press_shoulder(Button.BUTTON_L,
amount)` and `release_all()`, sticks and shoulders in 0..1 with 0.5 the stick's neutral. This class
takes the same calls, so a libmelee bot drives the model unchanged: buttons may be given as
libmelee's enum members (their `.value` is "A", "MAIN", "D_UP"...), as those strings, or with the
"BUTTON_" prefix.

`to_tensor()` gives the (17,) encoded input of `data.encoding.encode_controller`: main stick x/y,
C-stick x/y (0..1, 0.5 neutral), the analog trigger (the larger of L and R: Slippi's processed
trigger), then the twelve buttons of `schema.controller.BUTTON_BITS` as 0/1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable, Sequence

import torch

from dreamland.data.encoding import decode_controller, encode_controller
from dreamland.schema.controller import BUTTON_BITS, stick_to_unit, unit_to_stick


class Button(str, Enum):
    """libmelee's `melee.enums.Button` names and values."""

    BUTTON_A = "A"
    BUTTON_B = "B"
    BUTTON_X = "X"
    BUTTON_Y = "Y"
    BUTTON_Z = "Z"
    BUTTON_L = "L"
    BUTTON_R = "R"
    BUTTON_START = "START"
    BUTTON_D_UP = "D_UP"
    BUTTON_D_DOWN = "D_DOWN"
    BUTTON_D_LEFT = "D_LEFT"
    BUTTON_D_RIGHT = "D_RIGHT"
    BUTTON_MAIN = "MAIN"
    BUTTON_C = "C"


BUTTONS: tuple[str, ...] = tuple(BUTTON_BITS)  # A B X Y Z L R START D_* in the schema's order
STICK_NAMES = ("MAIN", "C")


def button_name(button: Any) -> str:
    """'A' from Button.BUTTON_A, libmelee's enum member, 'A', 'a' or 'BUTTON_A'."""
    value = getattr(button, "value", button)
    if not isinstance(value, str):
        raise ValueError(f"not a button: {button!r}")
    name = value.upper()
    if name.startswith("BUTTON_"):
        name = name[len("BUTTON_"):]
    if name not in BUTTON_BITS and name not in STICK_NAMES:
        raise ValueError(f"unknown button {button!r}; buttons: {', '.join(BUTTONS)}, sticks MAIN and C")
    return name


def _unit(v: float, what: str) -> float:
    v = float(v)
    if not (v == v) or v in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be a finite number, got {v}")
    return min(1.0, max(0.0, v))


@dataclass
class Controller:
    """The state of one controller for one frame (it persists until changed, as a pad does)."""

    main_stick: tuple[float, float] = (0.5, 0.5)
    c_stick: tuple[float, float] = (0.5, 0.5)
    l_shoulder: float = 0.0
    r_shoulder: float = 0.0
    buttons: set[str] = field(default_factory=set)

    # --- libmelee's vocabulary
    def press_button(self, button: Any) -> "Controller":
        name = button_name(button)
        if name in STICK_NAMES:
            raise ValueError(f"{name} is a stick: use tilt_analog")
        self.buttons.add(name)
        return self

    def release_button(self, button: Any) -> "Controller":
        self.buttons.discard(button_name(button))
        return self

    def tilt_analog(self, stick: Any, x: float, y: float) -> "Controller":
        name = button_name(stick)
        xy = (_unit(x, "stick x"), _unit(y, "stick y"))
        if name == "MAIN":
            self.main_stick = xy
        elif name == "C":
            self.c_stick = xy
        else:
            raise ValueError(f"{name} is not a stick (MAIN or C)")
        return self

    def press_shoulder(self, shoulder: Any, amount: float) -> "Controller":
        name = button_name(shoulder)
        if name == "L":
            self.l_shoulder = _unit(amount, "shoulder")
        elif name == "R":
            self.r_shoulder = _unit(amount, "shoulder")
        else:
            raise ValueError(f"{name} is not a shoulder (L or R)")
        return self

    def release_all(self) -> "Controller":
        self.main_stick = (0.5, 0.5)
        self.c_stick = (0.5, 0.5)
        self.l_shoulder = self.r_shoulder = 0.0
        self.buttons.clear()
        return self

    def copy(self) -> "Controller":
        return Controller(self.main_stick, self.c_stick, self.l_shoulder, self.r_shoulder, set(self.buttons))

    # --- conversions
    @property
    def button_mask(self) -> int:
        return sum(BUTTON_BITS[b] for b in self.buttons)

    def to_tensor(self) -> torch.Tensor:
        """(17,) float32: the encoded input the world model reads."""
        return _encode([self])[0]

    @classmethod
    def from_tensor(cls, t: torch.Tensor) -> "Controller":
        sticks, mask = decode_controller(t.float())
        s = [float(v) for v in sticks.tolist()]
        m = int(mask)
        return cls(
            main_stick=(stick_to_unit(s[0]), stick_to_unit(s[1])),
            c_stick=(stick_to_unit(s[2]), stick_to_unit(s[3])),
            l_shoulder=s[4], r_shoulder=0.0,
            buttons={b for b, bit in BUTTON_BITS.items() if m & bit},
        )

    def to_json(self) -> dict[str, Any]:
        return {"main_x": self.main_stick[0], "main_y": self.main_stick[1], "c_x": self.c_stick[0],
                "c_y": self.c_stick[1], "l": self.l_shoulder, "r": self.r_shoulder,
                "buttons": sorted(self.buttons)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Controller":
        """The inverse of `to_json`; raises ValueError on anything malformed (unknown keys, values
        that are not finite numbers in 0..1, unknown buttons)."""
        if not isinstance(d, dict):
            raise ValueError("controller must be an object")
        allowed = {"main_x", "main_y", "c_x", "c_y", "l", "r", "buttons"}
        extra = set(d) - allowed
        if extra:
            raise ValueError(f"unknown controller keys: {sorted(extra)[:5]}")

        def num(key: str, default: float) -> float:
            v = d.get(key, default)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"controller.{key} must be a number")
            try:
                v = float(v)
            except OverflowError:  # an integer too large for a float is out of range like any other
                raise ValueError(f"controller.{key} must be in 0..1") from None
            if not (0.0 <= v <= 1.0):
                raise ValueError(f"controller.{key} must be in 0..1")
            return v

        buttons = d.get("buttons", [])
        if not isinstance(buttons, list) or len(buttons) > len(BUTTONS):
            raise ValueError("controller.buttons must be a list of button names")
        names = set()
        for b in buttons:
            if not isinstance(b, str) or b.upper() not in BUTTON_BITS:
                raise ValueError(f"unknown button {b!r}")
            names.add(b.upper())
        return cls((num("main_x", 0.5), num("main_y", 0.5)), (num("c_x", 0.5), num("c_y", 0.5)),
                   num("l", 0.0), num("r", 0.0), names)


def neutral() -> Controller:
    return Controller()


def as_tensor(c: Any) -> torch.Tensor:
    """A Controller, an encoded (17,) tensor / sequence, a libmelee-like object with `to_tensor`,
    or None (neutral) -> (17,) float32."""
    if c is None:
        return Controller().to_tensor()
    if isinstance(c, torch.Tensor):
        t = c.detach().float().reshape(-1)
    elif hasattr(c, "to_tensor"):
        t = c.to_tensor().float().reshape(-1)
    elif isinstance(c, dict):
        t = Controller.from_json(c).to_tensor()
    elif isinstance(c, Iterable):
        t = torch.tensor(list(c), dtype=torch.float32)
    else:
        raise TypeError(f"cannot use {type(c).__name__} as a controller")
    if t.shape != (len(BUTTONS) + 5,):
        raise ValueError(f"an encoded controller has {len(BUTTONS) + 5} values, got {tuple(t.shape)}")
    return torch.nan_to_num(t).clamp(0.0, 1.0)


def stack(controllers: Sequence[Any]) -> torch.Tensor:
    """Many controllers (anything `as_tensor` takes) -> (N, 17) float32, encoded in one call: a
    vector env's bots answer hundreds of `Controller`s a frame, and encoding each alone costs more
    than the model's step per game."""
    plain = [c is None or type(c) is Controller for c in controllers]  # a subclass may encode itself
    out = torch.empty(len(controllers), len(BUTTONS) + 5)
    rows = [i for i, p in enumerate(plain) if p]
    if rows:
        out[rows] = _encode([controllers[i] or _NEUTRAL for i in rows])
    for i, p in enumerate(plain):
        if not p:
            out[i] = as_tensor(controllers[i])
    return out


def _encode(pads: Sequence[Controller]) -> torch.Tensor:
    """(N, 17): sticks from 0..1 to replay units, the larger trigger, the button mask, encoded."""
    sticks = torch.tensor([(c.main_stick[0], c.main_stick[1], c.c_stick[0], c.c_stick[1],
                            max(c.l_shoulder, c.r_shoulder)) for c in pads], dtype=torch.float64)
    sticks[:, :4] = unit_to_stick(sticks[:, :4])
    masks = torch.tensor([c.button_mask for c in pads], dtype=torch.long)
    return encode_controller(sticks.float(), masks)  # rounded to float32 after the arithmetic


_NEUTRAL = Controller()
