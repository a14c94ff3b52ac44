"""Inference pipelines, one file per method; outputs.py holds what they return."""
from .outputs import ImageOutput, StepInfo, TextOutput

__all__ = ["ImageOutput", "TextOutput", "StepInfo"]
