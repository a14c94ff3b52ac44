"""Evaluation: oracle accuracy (per attribute, seen vs held-out pairs) and friends."""
from .metrics import check_reading, load_oracle, oracle_match, prompt_group
from .scene_accuracy import scene_accuracy

__all__ = ["oracle_match", "check_reading", "prompt_group", "load_oracle", "scene_accuracy"]
