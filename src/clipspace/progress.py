"""The one progress protocol: a callback receiving StepInfo serves tqdm, the CLI's --save-every and the
web UI alike (GLaSS generations, diffusion steps and training iterations all report through it)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class StepInfo:
    step: int
    total: int
    fitness: float | None = None
    preview: Any = None  # the current best image (3, H, W) in [0, 1], when asked for
    stage: str = ""
