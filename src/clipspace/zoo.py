"""Where the shipped models live: <repo>/zoo/<name>/, or $CLIPSPACE_ZOO/<name>/."""
from __future__ import annotations

import os
from pathlib import Path

ZOO_MODELS = ("oracle",)


def zoo_dir() -> Path:
    env = os.environ.get("CLIPSPACE_ZOO")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "zoo"


def resolve_model_path(name_or_path: str | os.PathLike) -> Path:
    """A zoo model name ("oracle") or a model directory -> the directory; a clear error if neither exists."""
    p = Path(name_or_path)
    if p.is_dir():
        return p
    candidate = zoo_dir() / str(name_or_path)
    if candidate.is_dir():
        return candidate
    raise FileNotFoundError(
        f"no model directory {str(name_or_path)!r} (not a path, and not in the zoo at {zoo_dir()}: {', '.join(list_models()) or 'empty'})"
    )


def list_models() -> list[str]:
    z = zoo_dir()
    return sorted(p.name for p in z.iterdir() if (p / "config.json").is_file()) if z.is_dir() else []
