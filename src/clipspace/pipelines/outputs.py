"""What pipelines return, and the one progress protocol (StepInfo) every long loop reports through."""
from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

from ..progress import StepInfo  # noqa: F401  (re-exported: pipelines.outputs is where users look)


@dataclass
class ImageOutput:
    images: list[Image.Image]
    scores: list[float]  # CLIP similarity of each image to its prompt (the pipeline's CLIP)
    prompts: list[str]
    seeds: list[int]
    history: list[list[float]] = field(default_factory=list)  # per image, e.g. best fitness per generation
    extras: dict = field(default_factory=dict)


@dataclass
class TextOutput:
    captions: list[list[str]]  # per image, best first
    scores: list[list[float]]  # CLIP similarity of each caption to its image
    history: list[list[float]] = field(default_factory=list)
    extras: dict = field(default_factory=dict)
