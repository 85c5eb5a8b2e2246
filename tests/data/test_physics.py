"""The per-character physics table (schema/physics.py) against real games."""

from __future__ import annotations

import pytest

from dreamland.data.physics import count_physics, main
from dreamland.schema.characters import NANA_INTERNAL, POPO_INTERNAL
from dreamland.schema.physics import PHYSICS, physics

FOX, FALCO, MARTH = 1, 22, 18


def test_counting_the_test_games_finds_the_table(small_store):
    """The table was counted over every game the project holds; five games of the test corpus
    give the same constants for every character they show enough of."""
    counted = count_physics(small_store)
    assert len(counted) >= 4, counted
    for ch, p in counted.items():
        assert PHYSICS[ch] == p, (ch, p, PHYSICS[ch])


def test_table_agrees_with_the_published_attributes():
    """Gravity and terminal velocity as tabulated from the game's files by the community (the SSBM
    Data Sheet's character attributes), written here by hand."""
    for ch, gravity, terminal in ((FOX, 0.23, 2.8), (FALCO, 0.17, 3.1), (MARTH, 0.085, 2.2)):
        assert (PHYSICS[ch].gravity, PHYSICS[ch].terminal) == (gravity, terminal)
    assert physics(NANA_INTERNAL) == physics(POPO_INTERNAL)
    assert physics(27) is None  # Master Hand: no rule, the velocities keep


def test_counting_a_missing_store_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "nowhere")])
    assert "no such store" in str(exc.value.code) and "\n" not in str(exc.value.code)
