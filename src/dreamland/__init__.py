"""dreamland: learn Super Smash Bros. Melee from Slippi replays, then play what was learned."""

__version__ = "0.1.0"
