"""argparse pieces that more than one subcommand uses: `dreamland.cli` and the eval command
(`evaluate.command`) both build parsers from them, so they live below both."""

from __future__ import annotations

import argparse


def int_at_least(minimum: int):
    """An argparse type: a whole number >= `minimum`, else a one-line usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a number >= {minimum}, got {value}")
        return value

    return parse


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.9,0.05,0.05, got {text!r}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.9,0.05,0.05, got {text!r}")
    return parts  # type: ignore[return-value]


def split_spec(args: argparse.Namespace):
    """The store split that the arguments of `add_split_arguments` describe."""
    from dreamland.data.store import SplitSpec  # the store pulls in pyarrow: only for a command that reads one

    return SplitSpec.from_names(args.split_fractions, args.heldout_character, args.heldout_stage)


def add_split_arguments(p: argparse.ArgumentParser) -> None:
    """The options that choose which games a split holds, the same for every command that reads a store."""
    p.add_argument("--split-fractions", type=_fractions, default=(0.9, 0.05, 0.05),
                   metavar="TRAIN,VAL,TEST", help="shares of games (by a stable hash of the game "
                   "id) in train, val and test (default: 0.9,0.05,0.05)")
    p.add_argument("--heldout-character", action="append", default=[], metavar="CHARACTER",
                   help="games with this character go to the 'heldout' split only; repeatable")
    p.add_argument("--heldout-stage", action="append", default=[], metavar="STAGE",
                   help="games on this stage go to the 'heldout' split only; repeatable")
