"""The config machinery: presets stack, overrides apply, unknown keys and wrong types are refused."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from dreamland.config import ConfigError, build, merge, parse_override, to_dict


@dataclass(frozen=True)
class Optim:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.95)
    warmup: int = 100


@dataclass(frozen=True)
class Tree:
    name: str = "run"
    optim: Optim = field(default_factory=Optim)
    weights: dict[str, float] = field(default_factory=dict)
    compile: bool = False
    threads: int | None = None


def test_override_parsing():
    assert parse_override("optim.lr=3e-4") == {"optim": {"lr": 3e-4}}
    assert parse_override("compile=true") == {"compile": True}
    assert parse_override("optim.betas=[0.8, 0.9]") == {"optim": {"betas": [0.8, 0.9]}}
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("optim.lr")


def test_presets_stack_then_overrides(tmp_path):
    (tmp_path / "a.yaml").write_text("optim: {lr: 0.01, warmup: 5}\nname: a\n")
    (tmp_path / "b.yaml").write_text("optim: {lr: 0.02}\n")
    cfg = build(Tree(), ["a", "b"], ["optim.warmup=7", "weights.x=2"], tmp_path)
    assert cfg.name == "a" and cfg.optim.lr == 0.02 and cfg.optim.warmup == 7
    assert cfg.weights == {"x": 2.0}
    assert to_dict(cfg)["optim"]["betas"] == [0.9, 0.95]
    # a mapping field takes new keys and keeps the others
    cfg = build(Tree(weights={"x": 5.0}), [], ["weights={y: 2}"], tmp_path)
    assert cfg.weights == {"x": 5.0, "y": 2.0}
    assert build(Tree(weights={"x": 5.0}), [], ["weights={x: 1}"], tmp_path).weights == {"x": 1.0}


def test_unknown_key_names_the_dotted_key_and_a_suggestion():
    with pytest.raises(ConfigError, match=r"unknown config key optim\.lrr \(did you mean optim\.lr\?\)"):
        merge(Tree(), {"optim": {"lrr": 1}})


def test_wrong_types():
    for bad, message in [
        ({"optim": {"warmup": "ten"}}, "optim.warmup: expected a whole number"),
        ({"compile": "yes"}, "compile: expected true or false"),
        ({"optim": {"betas": [0.9]}}, "optim.betas: expected 2 values"),
        ({"optim": 3}, "optim: expected a mapping"),
        ({"threads": 1.5}, "threads"),
    ]:
        with pytest.raises(ConfigError, match=message):
            merge(Tree(), bad)
    assert merge(Tree(), {"threads": None}).threads is None
    assert merge(Tree(), {"optim": {"lr": 1}}).optim.lr == 1.0  # ints are numbers


def test_unknown_and_broken_presets(tmp_path):
    (tmp_path / "ok.yaml").write_text("name: x\n")
    with pytest.raises(ConfigError, match="unknown preset 'nope'; presets: ok"):
        build(Tree(), ["nope"], [], tmp_path)
    (tmp_path / "bad.yaml").write_text("optim: [unclosed\n")
    with pytest.raises(ConfigError, match="unreadable preset"):
        build(Tree(), ["bad"], [], tmp_path)
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        build(Tree(), ["list"], [], tmp_path)
