"""The input edge: user images in, PNGs with their generation settings out. Errors here are `InputError`."""
from __future__ import annotations

import io as _io
import json
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, PngImagePlugin, UnidentifiedImageError

MODEL_SIZE = 64
PNG_KEY = "clipspace"


class InputError(ValueError):
    """Bad user input; the CLI prints its message on one line and exits with code 2."""


def _open(source) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        try:
            return Image.open(_io.BytesIO(bytes(source)))
        except (UnidentifiedImageError, OSError) as e:
            raise InputError(f"bytes are not an image ({e.__class__.__name__})") from None
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise InputError(f"{path}: no such file")
        if path.is_dir():
            raise InputError(f"{path}: is a directory, not an image")
        try:
            img = Image.open(path)
            img.load()
            return img
        except (UnidentifiedImageError, OSError, SyntaxError) as e:
            raise InputError(f"{path}: not a readable image ({e.__class__.__name__})") from None
    if isinstance(source, torch.Tensor):
        source = source.detach().cpu().numpy()
        if source.ndim == 3 and source.shape[0] in (1, 3, 4) and source.shape[-1] not in (1, 3, 4):
            source = source.transpose(1, 2, 0)
    if isinstance(source, np.ndarray):
        return _from_array(source)
    raise InputError(f"cannot read an image from a {type(source).__name__}; pass a path, bytes, a PIL image or an array")


def _from_array(a: np.ndarray) -> Image.Image:
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)) or 0 in a.shape:
        raise InputError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4); got shape {a.shape}")
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        if not np.isfinite(a).all():
            raise InputError("image array holds NaN or infinite values")
        if a.max() <= 1.0:  # floats in [0, 1]
            a = a * 255
        a = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    return Image.fromarray(a)


def load_image(source, size: int = MODEL_SIZE) -> Image.Image:
    """Any user image (path, bytes, PIL image, array or tensor; any mode and size) as an RGB size x size image.

    Transparency is composited onto black (the Shapes world's first background); a non-square image is
    centre-cropped to a square before resizing, as CLIP preprocessing does.
    """
    img = _open(source)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        img = Image.alpha_composite(bg, rgba)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float64)
        span = a.max() - a.min()
        img = Image.fromarray(np.uint8(np.rint(255 * (a - a.min()) / span)) if span > 0 else np.zeros(a.shape, np.uint8))
    img = img.convert("RGB")
    w, h = img.size
    if w != h:
        s = min(w, h)
        img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BICUBIC if img.size[0] < size else Image.Resampling.BOX)
    return img


def image_to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255)


def load_images(sources, size: int = MODEL_SIZE) -> torch.Tensor:
    """A batch (B, 3, size, size) in [0, 1] from a list of user images."""
    if isinstance(sources, (str, os.PathLike, bytes, Image.Image, np.ndarray)):
        sources = [sources]
    return torch.stack([image_to_tensor(load_image(s, size)) for s in sources])


def tensor_to_pil(x: torch.Tensor) -> Image.Image:
    """(3, H, W) float in [0, 1] -> RGB PIL image."""
    a = (x.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(a)


def save_png(img: Image.Image, path: str | os.PathLike, settings: dict | None = None) -> None:
    """Write a PNG with `settings` (prompt, method, seed, ...) as JSON in a text chunk, atomically."""
    info = PngImagePlugin.PngInfo()
    if settings:
        info.add_text(PNG_KEY, json.dumps(settings, sort_keys=True))
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    img.save(tmp, format="PNG", pnginfo=info)
    os.replace(tmp, path)


def read_png_settings(path: str | os.PathLike) -> dict:
    """The settings `save_png` embedded, or {} if none."""
    with Image.open(path) as img:
        text = getattr(img, "text", {}) or img.info
        raw = text.get(PNG_KEY)
    return json.loads(raw) if raw else {}


def make_grid(images: list[Image.Image], cols: int | None = None, pad: int = 2) -> Image.Image:
    """A contact sheet of equal-sized images."""
    if not images:
        raise ValueError("no images for a grid")
    cols = cols or int(np.ceil(np.sqrt(len(images))))
    rows = int(np.ceil(len(images) / cols))
    w, h = images[0].size
    sheet = Image.new("RGB", (cols * (w + pad) + pad, rows * (h + pad) + pad), (40, 40, 40))
    for k, im in enumerate(images):
        sheet.paste(im, (pad + (k % cols) * (w + pad), pad + (k // cols) * (h + pad)))
    return sheet
