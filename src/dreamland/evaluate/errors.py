"""The one error type of evaluation: bad input reported as one line (exit status 2 from the CLI)."""

from __future__ import annotations


class EvaluationError(Exception):
    """A checkpoint, replay set, store split or report folder that cannot be evaluated. The
    message is one line that says what to do."""
