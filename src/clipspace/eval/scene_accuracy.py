"""How well an oracle reading matches the true scenes: per attribute and whole scene."""
from __future__ import annotations

from ..models.oracle import OracleReading
from ..world.scene import Scene


def scene_accuracy(reading: OracleReading, scenes: list[Scene]) -> dict[str, float]:
    """Per-attribute accuracy over true objects (a missed object counts wrong for each attribute),
    background and object-count accuracy over scenes, and full match (everything right, nothing extra)."""
    hits = {"color": 0, "shape": 0, "size": 0, "position": 0}
    n_obj = bg = count = full = 0
    for b, scene in enumerate(scenes):
        pred = reading.describe(b)
        by_cell = {o["cell"]: o for o in pred["objects"]}
        ok = pred["background"] == scene.background and len(pred["objects"]) == len(scene.objects)
        bg += pred["background"] == scene.background
        count += len(pred["objects"]) == len(scene.objects)
        for o in scene.objects:
            n_obj += 1
            p = by_cell.get(o.cell)
            if p is None:
                ok = False
                continue
            hits["position"] += 1
            for k in ("color", "shape", "size"):
                good = p[k] == getattr(o, k)
                hits[k] += good
                ok = ok and good
        full += ok
    out = {k: v / max(n_obj, 1) for k, v in hits.items()}
    out.update(background=bg / len(scenes), count=count / len(scenes), full_match=full / len(scenes))
    return out
