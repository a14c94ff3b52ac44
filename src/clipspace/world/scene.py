"""Scenes of the Shapes world v1 (shared/SHAPES_WORLD.md): attributes, sampling and held-out pairs.

`sample_scene(rng)` is a pure function of a numpy Generator: the same seed gives the same scene.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

SHAPES = ("circle", "square", "triangle", "diamond", "star")
COLORS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 210, 40),
    "purple": (150, 60, 190),
    "orange": (245, 140, 30),
    "cyan": (40, 200, 210),
    "pink": (240, 120, 180),
}
COLOR_NAMES = tuple(COLORS)
BACKGROUNDS = {"black": (0, 0, 0), "gray": (128, 128, 128), "white": (255, 255, 255)}
BACKGROUND_NAMES = tuple(BACKGROUNDS)
SIZES = {"small": (14.0, 18.0), "large": (24.0, 30.0)}
SIZE_NAMES = tuple(SIZES)
CELL_CENTERS = (16.0, 32.0, 48.0)
JITTER = 3.0
COLOR_JITTER = 10
MARGIN = 2.0  # extent boxes grown by this on each side must not overlap
# (row, col) -> position name; row 0 is the top.
POSITIONS = (
    "top left", "top", "top right",
    "left", "center", "right",
    "bottom left", "bottom", "bottom right",
)
HELD_OUT_PAIRS = frozenset({
    ("purple", "star"), ("orange", "triangle"), ("cyan", "square"), ("pink", "circle"), ("green", "diamond"),
})
ALL_PAIRS = tuple((c, s) for c in COLOR_NAMES for s in SHAPES)


def is_held_out(color: str | None, shape: str | None) -> bool:
    return (color, shape) in HELD_OUT_PAIRS


class GridCell:
    """row, col and position name of anything with a `cell` (0..8, row-major)."""

    cell: int

    @property
    def row(self) -> int:
        return self.cell // 3

    @property
    def col(self) -> int:
        return self.cell % 3

    @property
    def position(self) -> str:
        return POSITIONS[self.cell]


@dataclass(frozen=True)
class SceneObject(GridCell):
    shape: str
    color: str
    rgb: tuple[int, int, int]  # jittered color actually drawn
    size: str  # "small" | "large"
    s: float  # extent in px
    cell: int  # 0..8, row-major; POSITIONS[cell] is its name
    cx: float  # extent-box centre (x grows right)
    cy: float  # extent-box centre (y grows down)

    def box(self, grow: float = 0.0) -> tuple[float, float, float, float]:
        h = self.s / 2 + grow
        return (self.cx - h, self.cy - h, self.cx + h, self.cy + h)


@dataclass(frozen=True)
class Scene:
    background: str
    objects: tuple[SceneObject, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        return {"background": self.background, "objects": [asdict(o) for o in self.objects]}

    @classmethod
    def from_dict(cls, d: dict) -> "Scene":
        objs = tuple(SceneObject(**{**o, "rgb": tuple(o["rgb"])}) for o in d["objects"])
        return cls(background=d["background"], objects=objs)


def boxes_overlap(a: SceneObject, b: SceneObject, grow: float = MARGIN) -> bool:
    ax0, ay0, ax1, ay1 = a.box(grow)
    bx0, by0, bx1, by1 = b.box(grow)
    return ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1


def sample_object(rng: np.random.Generator, exclude_cell: int | None = None, exclude_color: str | None = None) -> SceneObject:
    shape = SHAPES[rng.integers(len(SHAPES))]
    colors = [c for c in COLOR_NAMES if c != exclude_color]
    color = colors[rng.integers(len(colors))]
    base = np.array(COLORS[color])
    rgb = tuple(int(v) for v in np.clip(base + rng.integers(-COLOR_JITTER, COLOR_JITTER + 1, size=3), 0, 255))
    size = SIZE_NAMES[rng.integers(len(SIZE_NAMES))]
    lo, hi = SIZES[size]
    s = float(rng.uniform(lo, hi))
    cells = [c for c in range(9) if c != exclude_cell]
    cell = int(cells[rng.integers(len(cells))])
    cx = CELL_CENTERS[cell % 3] + float(rng.uniform(-JITTER, JITTER))
    cy = CELL_CENTERS[cell // 3] + float(rng.uniform(-JITTER, JITTER))
    return SceneObject(shape, color, rgb, size, s, cell, cx, cy)


def can_have_neighbour(obj: SceneObject) -> bool:
    """A large object in the center overlaps every other cell's grown box, so it is always alone."""
    return not (obj.size == "large" and obj.cell == 4)


def sample_scene(rng: np.random.Generator, num_objects: int | None = None, max_tries: int = 1000) -> Scene:
    """Draw a scene: background, then 1 or 2 objects (p = 1/2 each unless `num_objects` is given).

    The second object is resampled whole until the grown extent boxes do not overlap. A first object
    that cannot have a neighbour (large, center) leaves the scene with one object.
    """
    background = BACKGROUND_NAMES[rng.integers(len(BACKGROUND_NAMES))]
    n = int(rng.integers(1, 3)) if num_objects is None else num_objects
    if n not in (1, 2):
        raise ValueError(f"a scene holds 1 or 2 objects, got {n}")
    first = sample_object(rng)
    while num_objects == 2 and not can_have_neighbour(first):  # asked for two: redraw the first
        first = sample_object(rng)
    objects = [first]
    if n == 2 and can_have_neighbour(first):
        for _ in range(max_tries):
            second = sample_object(rng, exclude_cell=first.cell, exclude_color=first.color)
            if not boxes_overlap(first, second):
                objects.append(second)
                break
    return Scene(background, tuple(objects))
