"""What an experiment is, checked at the door: the schema (frozen dataclasses whose fields
document themselves), how a config is resolved (defaults < `--config` file < flags <
`--set`, with the `init` section's rules), the value checks every source goes through,
strict YAML files, sweep grids, a sweep run's folder name, and the shipped presets
(`presets/*.yaml`, `--config NAME`). No TensorFlow."""
