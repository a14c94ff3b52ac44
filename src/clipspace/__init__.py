"""clipspace: text -> image and image -> text through a shared CLIP embedding space.

    from clipspace import load_pipeline
    pipe = load_pipeline("glass")
    out = pipe("a small red circle on a black background", num_images=4, seed=0)

Heavy modules (torch, transformers) load on first use, not at import.
"""
from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar for our few-MB models

__version__ = "0.1.0"

PIPELINES = {
    "glass": ("clipspace.pipelines.glass", "GlassPipeline"),
    "flow": ("clipspace.pipelines.flow", "FlowPipeline"),
    "unclip": ("clipspace.pipelines.unclip", "UnclipPipeline"),
}


def load_pipeline(method: str, path: str | None = None, **kwargs):
    """A pipeline by method name, from the shipped zoo (default) or a pipeline directory."""
    import importlib

    if method not in PIPELINES:
        raise ValueError(f"unknown method {method!r}; available: {', '.join(PIPELINES)}")
    module, cls = PIPELINES[method]
    return getattr(importlib.import_module(module), cls).from_pretrained(path, **kwargs)


def list_models() -> list[str]:
    """Model directories in the zoo."""
    from .zoo import list_models as _list

    return _list()


__all__ = ["load_pipeline", "list_models", "PIPELINES", "__version__"]
