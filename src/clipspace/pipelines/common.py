"""What every pipeline shares: loading components from the zoo or a pipeline dir, and input checks."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch

from ..io import InputError, load_images


def component_path(root: str | os.PathLike | None, name: str) -> Path:
    """<root>/<name> for a pipeline directory, else the zoo's model of that name."""
    from ..zoo import resolve_model_path

    if root is not None:
        p = Path(root) / name
        if not p.is_dir():
            raise FileNotFoundError(f"{root} has no {name}/ component")
        return p
    try:
        return resolve_model_path(name)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"zoo/{name} is missing: train it with `clipspace train {name} --config configs/{name}.json`"
        ) from None


def optional_component(model_class, root: str | os.PathLike | None, name: str):
    """A component that may be absent (a critic, a baseline, a detail decoder): the model, or None."""
    try:
        return model_class.from_pretrained(component_path(root, name))
    except FileNotFoundError:
        return None


def write_model_index(path: str | os.PathLike, pipeline: str, components: dict[str, str]) -> None:
    Path(path).mkdir(parents=True, exist_ok=True)
    (Path(path) / "model_index.json").write_text(json.dumps({"pipeline": pipeline, **components}, indent=2) + "\n")


def check_prompts(prompt: str | list[str] | None, allow_empty: bool = False) -> list[str]:
    if prompt is None:
        prompts = []
    else:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if any(not isinstance(p, str) or not p.strip() for p in prompts):
        raise InputError("prompts must be non-empty text")
    if any(not re.search(r"[^\W_]", p) for p in prompts):
        raise InputError("prompts must contain at least one word")
    if not prompts and not allow_empty:
        raise InputError("a prompt is required")
    return [p.strip() for p in prompts]


def check_count(name: str, value: int, low: int = 1) -> int:
    if not isinstance(value, int) or value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def check_range(name: str, value: float, low: float, high: float) -> float:
    if not (low <= value <= high):
        raise InputError(f"{name} must be in [{low}, {high}], got {value}")
    return float(value)


def image_prompt(image) -> torch.Tensor | None:
    """An image prompt (path, bytes, PIL, array or a list of them) as (B, 3, 64, 64), or None."""
    if image is None:
        return None
    if isinstance(image, torch.Tensor) and image.ndim == 4:
        return image.float().clamp(0, 1)
    return load_images(image if isinstance(image, list) else [image])


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def is_text(x) -> bool:
    """Whether an interpolation endpoint is a prompt (True) or an image; a missing image path is an error."""
    if not isinstance(x, str) or os.path.exists(x):
        return False
    if x.strip().lower().endswith(IMAGE_SUFFIXES):
        raise InputError(f"{x}: no such image")
    return True


def seed_for(seed: int | None, generator: torch.Generator | None) -> int:
    """One integer seed from either argument (a generator is consumed once)."""
    if generator is not None:
        return int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    return 0 if seed is None else int(seed)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between unit vectors (rows)."""
    a_n, b_n = torch.nn.functional.normalize(a, dim=-1), torch.nn.functional.normalize(b, dim=-1)
    omega = torch.arccos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a_n + (torch.sin(t * omega) / so) * b_n


def per_image_generators(base_seed: int, n: int) -> list[torch.Generator]:
    """Image i draws from seed base_seed + i, so a batch equals n single calls."""
    return [torch.Generator().manual_seed(base_seed + i) for i in range(n)]


def score_target(clip, prompts: list[str], images: torch.Tensor | None) -> torch.Tensor:
    """(D,) what `ImageOutput.scores` compares against: the prompts' mean embedding, else the image prompt's."""
    return clip.encode_text(prompts).mean(0) if prompts else clip.encode_image(images).mean(0)
