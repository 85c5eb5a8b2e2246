"""Training: the config tree, the loop (DDP, self-forcing through model.step), checkpoints, logs."""
