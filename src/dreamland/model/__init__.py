"""The dreamland world model (docs/model.md).

Import the submodules directly (this package imports nothing, so `import dreamland.model` stays
cheap):

* `model.config`: `ModelConfig` (the mixer's hyper-parameters in its `mamba`: `MambaConfig`), `PRESETS`,
  `preset(name, **overrides)`
* `model.world`: `WorldModel(config)` with `forward` (windows) and `step` (one frame)
* `model.heads`: heads/targets/losses from the schema, `LossConfig`, `loss_keys()`
* `model.rules`: `Rules` (head outputs -> next frame), `age_rule_window`
* `model.step`: THE step function (`step`, `step_encoded`) and `seed` (a rollout from real frames)
* `model.stepper`: `ModelStepper` (the model behind `steppers.protocol`), `CompiledStep`
* `model.window`: teacher-forced windows: `prepare_window`, `window_loss`, `loss_from_heads`,
  `predict_window`
* `model.checkpoint`: `save`, `load`, `load_tensors`, `CheckpointError`
* `model.bench`: `bench_step`, `model_info`, `format_table`
* `model.mamba2`: the Mamba-2 block
"""
