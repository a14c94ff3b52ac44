"""Seeded splits of the Shapes world and torch datasets over them.

Scene `index` of a split is `sample_scene(default_rng(scene_seed(split, index)))`: train, val and test
use disjoint seed ranges, so any machine draws the same scenes. Captions are drawn fresh each time a
scene is drawn (seeded by caption seed, epoch and index), so the text side is not one string per image.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from torch.utils.data import Dataset

from .captions import CaptionStyle, caption_scene
from .render import render
from .scene import Scene, sample_scene

SPLIT_OFFSETS = {"train": 0, "val": 1_000_000_000, "test": 2_000_000_000}
SPLIT_SIZE = 1_000_000_000


def scene_seed(split: str, index: int) -> int:
    if split not in SPLIT_OFFSETS:
        raise ValueError(f"unknown split {split!r}; expected one of {sorted(SPLIT_OFFSETS)}")
    if not 0 <= index < SPLIT_SIZE:
        raise ValueError(f"scene index {index} outside [0, {SPLIT_SIZE})")
    return SPLIT_OFFSETS[split] + index


def scene_at(split: str, index: int) -> Scene:
    return sample_scene(np.random.default_rng(scene_seed(split, index)))


def _render_range(args: tuple[str, int, int]) -> np.ndarray:
    split, start, count = args
    return np.stack([render(scene_at(split, i)) for i in range(start, start + count)])


def render_split(split: str, num_scenes: int, start: int = 0, workers: int = 1, chunk: int = 2000) -> np.ndarray:
    """Render scenes [start, start + num_scenes) of a split as a (N, 64, 64, 3) uint8 array."""
    jobs = [(split, s, min(chunk, start + num_scenes - s)) for s in range(start, start + num_scenes, chunk)]
    if workers <= 1:
        parts = [_render_range(j) for j in jobs]
    else:
        with ProcessPoolExecutor(workers) as ex:
            parts = list(ex.map(_render_range, jobs))
    return np.concatenate(parts) if parts else np.zeros((0, 64, 64, 3), np.uint8)


def cached_split(split: str, num_scenes: int, cache_dir: str | None = None, workers: int = 2) -> np.ndarray:
    """`render_split` memoised as data/<split>-<N>.npy (never committed)."""
    cache_dir = cache_dir or os.environ.get("CLIPSPACE_DATA", "data")
    path = os.path.join(cache_dir, f"{split}-{num_scenes}.npy")
    if os.path.exists(path):
        return np.load(path, mmap_mode="r")
    images = render_split(split, num_scenes, workers=workers)
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp.npy"  # per process: two runs may render the same split at once
    np.save(tmp, images)
    os.replace(tmp, path)
    return images


def batch_at(images: np.ndarray, idx) -> torch.Tensor:
    """Rows `idx` of a (N, H, W, 3) uint8 array (or memmap; sorted indices read fastest) -> (B, 3, H, W) in [0, 1]."""
    return torch.from_numpy(np.asarray(images[np.asarray(idx)])).permute(0, 3, 1, 2).float().div_(255)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float in [0, 1]."""
    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).float().div_(255)


class ImageDataset(Dataset):
    """Images alone (every color-shape pair included), for unconditional and language-free training."""

    def __init__(self, split: str, num_scenes: int, images: np.ndarray | None = None):
        self.split, self.num_scenes, self.images = split, num_scenes, images

    def __len__(self) -> int:
        return self.num_scenes

    def scene(self, i: int) -> Scene:
        return scene_at(self.split, i)

    def image(self, i: int) -> np.ndarray:
        return self.images[i] if self.images is not None else render(self.scene(i))

    def __getitem__(self, i: int) -> torch.Tensor:
        return to_tensor(self.image(i))


class CaptionedDataset(ImageDataset):
    """(image, caption) pairs; captions never name a held-out pair together (unless hold_out=False).

    Call `set_epoch(e)` between epochs to draw fresh captions for the same scenes.
    """

    def __init__(
        self,
        split: str,
        num_scenes: int,
        images: np.ndarray | None = None,
        caption_seed: int = 0,
        style: CaptionStyle | None = None,
        hold_out: bool = True,
    ):
        super().__init__(split, num_scenes, images)
        self.caption_seed, self.style, self.hold_out, self.epoch = caption_seed, style, hold_out, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def caption(self, i: int) -> str:
        rng = np.random.default_rng([self.caption_seed, self.epoch, i])
        return caption_scene(self.scene(i), rng, self.style, self.hold_out)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        return to_tensor(self.image(i)), self.caption(i)
