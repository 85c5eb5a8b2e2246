"""Evaluation of world models against the real game: rollouts, teacher-forced figures,
plausibility, the hold and constant-velocity baselines, the controllability probe, reports and
comparisons (docs/evaluation.md).

Entry points: `run.evaluate`, `run.headline`, `run.store_from_replays`, `compare.compare`, and the
subcommands in `command` (`add_eval_parser`, `add_compare_parser`). Steppers: `stepper.Stepper`,
`baselines.HoldStepper`, `baselines.ConstantVelocityStepper`.
"""

from dreamland.evaluate.errors import EvaluationError

__all__ = ["EvaluationError"]
