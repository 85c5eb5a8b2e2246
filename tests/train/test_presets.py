"""What a training preset's YAML says about its model is true of the model it builds."""

from __future__ import annotations

import re

import pytest

from dreamland.model.world import WorldModel, count_parameters
from dreamland.train.config import PRESET_DIR, load_config, preset_names

# the first line of a size preset: "# ... about 1.2 M parameters ..."
STATED_COUNT = re.compile(r"about ([0-9.]+) M parameters", re.IGNORECASE)
# "about" in those lines rounds to one or two significant digits
TOLERANCE = 0.1


def stated_parameters(name: str) -> float | None:
    first_line = (PRESET_DIR / f"{name}.yaml").read_text().splitlines()[0]
    match = STATED_COUNT.search(first_line)
    return float(match.group(1)) * 1e6 if match else None


SIZED = [name for name in preset_names() if stated_parameters(name) is not None]


def test_every_size_preset_states_its_parameters():
    assert {"tiny", "small", "medium", "large"} <= set(SIZED)


@pytest.mark.parametrize("name", SIZED)
def test_stated_parameter_count_is_the_models(name):
    stated = stated_parameters(name)
    actual = count_parameters(WorldModel(load_config([name], []).model))
    assert abs(actual - stated) / stated < TOLERANCE, f"{name}.yaml says about {stated:,.0f}, the model has {actual:,}"
