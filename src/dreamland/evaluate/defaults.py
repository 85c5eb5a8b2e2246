"""Defaults of an evaluation, importable without torch (the CLI builds its help from them)."""

HORIZONS = (1, 5, 10, 20, 60, 300)  # frames after the seed at which every figure is reported
DEFAULT_CONTEXT = 30  # K real frames seed a rollout when the model does not say its own
