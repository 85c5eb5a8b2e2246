import pytest
import torch

from dreamland.data.encoding import decode_controller
from dreamland.play.controller import Button, Controller, as_tensor, stack
from dreamland.schema.controller import BUTTON_BITS


def test_neutral_controller_tensor():
    t = Controller().to_tensor()
    assert t.shape == (17,)
    assert torch.allclose(t[:4], torch.full((4,), 0.5))
    assert t[4] == 0 and t[5:].sum() == 0


def test_libmelee_vocabulary_round_trip():
    c = Controller()
    c.press_button(Button.BUTTON_A).press_button("x").press_button("BUTTON_D_UP")
    c.tilt_analog(Button.BUTTON_MAIN, 1.0, 0.25).tilt_analog("C", 0.0, 0.5)
    c.press_shoulder(Button.BUTTON_L, 0.6)
    t = c.to_tensor()
    sticks, mask = decode_controller(t)
    assert int(mask) == BUTTON_BITS["A"] | BUTTON_BITS["X"] | BUTTON_BITS["D_UP"]
    assert torch.allclose(sticks, torch.tensor([1.0, -0.5, -1.0, 0.0, 0.6]), atol=1e-6)
    back = Controller.from_tensor(t)
    assert back.buttons == {"A", "X", "D_UP"} and back.main_stick == pytest.approx((1.0, 0.25))
    c.release_button("A")
    assert "A" not in c.buttons
    c.release_all()
    assert torch.equal(c.to_tensor(), Controller().to_tensor())


def test_libmelee_enum_members_are_accepted():
    class FakeEnum:  # libmelee's enums expose the button as .value
        value = "B"

    assert Controller().press_button(FakeEnum()).buttons == {"B"}


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        Controller().press_button("Q")
    with pytest.raises(ValueError):
        Controller().tilt_analog("MAIN", float("nan"), 0.5)
    with pytest.raises(ValueError):
        Controller.from_json({"main_x": 2.0})
    with pytest.raises(ValueError):
        Controller.from_json({"buttons": ["A", "NOPE"]})
    with pytest.raises(ValueError):
        Controller.from_json({"evil": 1})
    with pytest.raises(ValueError):
        as_tensor([0.5] * 3)


def test_json_round_trip_and_clamping():
    c = Controller().tilt_analog("MAIN", 0.3, 0.9).press_button("Z")
    assert Controller.from_json(c.to_json()).to_json() == c.to_json()
    assert Controller().tilt_analog("MAIN", 5, -1).main_stick == (1.0, 0.0)


def test_stack_encodes_many_controllers_as_each_alone():
    pads = [Controller(), None, Controller().tilt_analog("MAIN", 0.1, 0.9).press_button("A"),
            Controller().press_shoulder("L", 0.3).press_shoulder("R", 0.7).tilt_analog("C", 1.0, 0.0),
            torch.full((17,), 0.25), {"main_x": 0.2, "buttons": ["Z", "start"]}]
    out = stack(pads)
    assert out.shape == (len(pads), 17) and out.dtype == torch.float32
    for row, pad in zip(out, pads):
        assert torch.equal(row, as_tensor(pad))
    assert stack([]).shape == (0, 17)
