"""Everything that advances a game by one frame, behind one protocol.

* `protocol`: the `Stepper` protocol (what `init` and `step` take and return) and `merge_rows`.
* `baselines`: hold, constant velocity and the counted action lookup, which every evaluation
  shows beside the model.
* `load`: `load_stepper`, the one loader (a checkpoint, the shipped model, a baseline, the toy).

The world model's stepper is `model.stepper.ModelStepper`; the hand-written toy physics is
`play.toy.PhysicsToyStepper`.
"""

from dreamland.steppers.load import load_stepper
from dreamland.steppers.protocol import Stepper, merge_rows

__all__ = ["Stepper", "load_stepper", "merge_rows"]
