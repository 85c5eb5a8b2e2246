"""`load_stepper`, the one loader behind eval, play, sessions and the environments."""

from __future__ import annotations

import pytest

from dreamland.model.checkpoint import CheckpointError
from dreamland.model.stepper import ModelStepper
from dreamland.play.toy import PhysicsToyStepper
from dreamland.steppers import Stepper, load_stepper
from dreamland.steppers.baselines import ConstantVelocityStepper, HoldStepper, LookupStepper, baseline_name


def test_the_shipped_model_by_default():
    stepper = load_stepper()
    assert isinstance(stepper, ModelStepper) and isinstance(stepper, Stepper)
    assert stepper.context > 1  # the context it was trained with, from its training config


def test_names_of_the_toy_and_the_baselines(small_store):
    assert isinstance(load_stepper("toy"), PhysicsToyStepper)
    assert isinstance(load_stepper("Physics-Toy"), PhysicsToyStepper)
    assert isinstance(load_stepper("hold"), HoldStepper)
    assert isinstance(load_stepper("constant-velocity"), ConstantVelocityStepper)
    assert isinstance(load_stepper("constant_velocity"), ConstantVelocityStepper)
    games = small_store.games_in("all", eligible_only=False)
    lookup = load_stepper("lookup", store=small_store, games=games[:1])
    assert isinstance(lookup, LookupStepper)
    assert baseline_name("constant-velocity") == "constant_velocity" and baseline_name("model") is None


def test_steppers_and_factories_pass_through():
    toy = PhysicsToyStepper()
    assert load_stepper(toy) is toy
    assert isinstance(load_stepper(PhysicsToyStepper), PhysicsToyStepper)


def test_one_line_errors(tmp_path, small_store):
    with pytest.raises(CheckpointError, match="no such checkpoint .*hold, constant-velocity, lookup") as exc:
        load_stepper(tmp_path / "missing")
    assert "\n" not in str(exc.value)
    with pytest.raises(CheckpointError, match="not a dreamland checkpoint"):
        load_stepper(tmp_path)
    with pytest.raises(CheckpointError, match="lookup baseline counts its table"):
        load_stepper("lookup")
    every = small_store.games_in("all", eligible_only=False)
    with pytest.raises(CheckpointError, match="lookup baseline counts its table"):
        load_stepper("lookup", store=small_store, games=every)  # nothing left to count over
