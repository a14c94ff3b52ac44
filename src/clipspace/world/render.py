"""Anti-aliased rendering of Shapes-world scenes: 4x4 supersampling, then a box filter.

Every shape is a union of convex polygons (a circle is a disc), tested exactly at the sample points
(j + (k + 0.5) / 4, i + (l + 0.5) / 4) of pixel (row i, col j). Pure numpy; same scene, same bytes.
"""
from __future__ import annotations

import math

import numpy as np

from .scene import BACKGROUNDS, Scene, SceneObject

SIZE = 64
SUPERSAMPLE = 4


def _star_pieces(cx: float, cy: float, s: float) -> list[np.ndarray]:
    """A 5-pointed star (point up) as its inner pentagon plus five tip triangles."""
    R, r = s / 2, 0.4 * s / 2
    outer = [(cx + R * math.cos(math.radians(-90 + 72 * k)), cy + R * math.sin(math.radians(-90 + 72 * k))) for k in range(5)]
    inner = [(cx + r * math.cos(math.radians(-54 + 72 * k)), cy + r * math.sin(math.radians(-54 + 72 * k))) for k in range(5)]
    pieces = [np.array(inner)]
    for k in range(5):
        pieces.append(np.array([outer[k], inner[k], inner[k - 1]]))
    return pieces


def shape_polygons(obj: SceneObject) -> list[np.ndarray]:
    """Convex pieces (each an (N, 2) array of x, y vertices) whose union is the shape; [] for a circle."""
    cx, cy, h = obj.cx, obj.cy, obj.s / 2
    if obj.shape == "square":
        return [np.array([(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)])]
    if obj.shape == "triangle":
        return [np.array([(cx, cy - h), (cx + h, cy + h), (cx - h, cy + h)])]
    if obj.shape == "diamond":
        return [np.array([(cx, cy - h), (cx + h, cy), (cx, cy + h), (cx - h, cy)])]
    if obj.shape == "star":
        return _star_pieces(cx, cy, obj.s)
    if obj.shape == "circle":
        return []
    raise ValueError(f"unknown shape {obj.shape!r}")


def _inside_convex(px: np.ndarray, py: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Points on the inner side of every edge (either winding order; boundary counts as inside)."""
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    # cross product sign of each edge against the centroid gives the inner side
    mx, my = poly[:, 0].mean(), poly[:, 1].mean()
    sign = np.sign((x1 - x0) * (my - y0) - (y1 - y0) * (mx - x0))
    inside = np.ones(np.broadcast(px, py).shape, dtype=bool)
    for k in range(len(poly)):
        c = (x1[k] - x0[k]) * (py - y0[k]) - (y1[k] - y0[k]) * (px - x0[k])
        inside &= c * sign[k] >= 0
    return inside


def coverage(obj: SceneObject, size: int = SIZE, ss: int = SUPERSAMPLE) -> tuple[slice, slice, np.ndarray]:
    """Fraction of each pixel the object covers, on the pixel window around its extent box."""
    x0, y0, x1, y1 = obj.box()
    j0, j1 = max(int(math.floor(x0)), 0), min(int(math.ceil(x1)) + 1, size)
    i0, i1 = max(int(math.floor(y0)), 0), min(int(math.ceil(y1)) + 1, size)
    if j0 >= j1 or i0 >= i1:
        return slice(0, 0), slice(0, 0), np.zeros((0, 0))
    offs = (np.arange(ss) + 0.5) / ss
    xs = (np.arange(j0, j1)[:, None] + offs[None, :]).reshape(-1)
    ys = (np.arange(i0, i1)[:, None] + offs[None, :]).reshape(-1)
    px, py = xs[None, :], ys[:, None]
    if obj.shape == "circle":
        mask = (px - obj.cx) ** 2 + (py - obj.cy) ** 2 <= (obj.s / 2) ** 2
    else:
        mask = np.zeros((len(ys), len(xs)), dtype=bool)
        for poly in shape_polygons(obj):
            mask |= _inside_convex(px, py, poly)
    cov = mask.reshape(i1 - i0, ss, j1 - j0, ss).mean(axis=(1, 3))
    return slice(i0, i1), slice(j0, j1), cov


def render(scene: Scene) -> np.ndarray:
    """Render a scene to a (64, 64, 3) uint8 array."""
    size = SIZE
    img = np.empty((size, size, 3), dtype=np.float64)
    img[:] = BACKGROUNDS[scene.background]
    for obj in scene.objects:
        rs, cs, a = coverage(obj, size)
        a = a[..., None]
        img[rs, cs] = img[rs, cs] * (1 - a) + np.asarray(obj.rgb, dtype=np.float64) * a
    return np.rint(img).clip(0, 255).astype(np.uint8)
