"""The `clipspace` command line (typer). Exit codes: 0 success, 2 bad input, 1 internal error."""
from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Optional

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never fetch anything at run time

import typer

from .io import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Text to image and image to text through a shared CLIP space.")
world_app = typer.Typer(no_args_is_help=True, help="The Shapes world: sample scenes and captions.")
app.add_typer(world_app, name="world")

TRAINERS = ("oracle", "clip")


def edge(fn):
    """Turn bad input into one line on stderr and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (InputError, FileNotFoundError, FileExistsError) as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2)

    return wrapper


def _check_positive(name: str, value: int) -> None:
    if value < 1:
        raise InputError(f"{name} must be at least 1, got {value}")


class _StagedDir:
    """Write into DIR.partial and move it into place only on success: nothing half-written is left."""

    def __init__(self, out: Path):
        self.out, self.tmp = Path(out), Path(str(out).rstrip("/") + ".partial")

    def __enter__(self) -> Path:
        if self.out.exists() and not self.out.is_dir():
            raise InputError(f"{self.out} exists and is not a directory")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        self.out.mkdir(parents=True, exist_ok=True)
        for f in self.tmp.iterdir():
            os.replace(f, self.out / f.name)
        self.tmp.rmdir()


@world_app.command("sample")
@edge
def world_sample(
    n: int = typer.Option(16, "-n", "--num", help="Number of scenes."),
    seed: int = typer.Option(0, "--seed", help="Scenes come from np.random.default_rng(seed)."),
    out: Path = typer.Option(Path("outputs/world"), "--out", help="Output directory."),
    held_out_captions: bool = typer.Option(False, "--name-held-out", help="Allow captions to name held-out pairs."),
):
    """Render N scenes with captions: PNGs, captions.jsonl and grid.png."""
    import numpy as np

    from .io import make_grid, save_png
    from .world import caption_scene, render, sample_scene
    from PIL import Image

    _check_positive("-n", n)
    rng = np.random.default_rng(seed)
    with _StagedDir(out) as tmp:
        images, lines = [], []
        for i in range(n):
            scene = sample_scene(rng)
            caption = caption_scene(scene, rng, hold_out=not held_out_captions)
            img = Image.fromarray(render(scene))
            name = f"{i:05d}.png"
            save_png(img, tmp / name, {"caption": caption, "seed": seed, "index": i, "scene": scene.to_dict()})
            images.append(img)
            lines.append(json.dumps({"image": name, "caption": caption, "scene": scene.to_dict()}))
        (tmp / "captions.jsonl").write_text("\n".join(lines) + "\n")
        make_grid(images).save(tmp / "grid.png")
    typer.echo(str(out / "grid.png"))


@app.command()
@edge
def train(
    model: str = typer.Argument(..., help=f"One of: {', '.join(TRAINERS)}."),
    config: Optional[Path] = typer.Option(None, "--config", help="JSON training config (configs/<model>.json)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the config's output_dir."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override the number of steps."),
    output_dir: Optional[str] = typer.Option(None, "--output-dir", help="Override the run directory."),
    export_dir: Optional[str] = typer.Option(None, "--export-dir", help="Override where the final model is saved."),
):
    """Train a zoo model (resumable: checkpoints are atomic)."""
    from .train.common import load_train_config

    if model not in TRAINERS:
        raise InputError(f"unknown model {model!r}; expected one of {', '.join(TRAINERS)}")
    if config is not None and not config.is_file():
        raise InputError(f"{config}: no such config file")
    overrides = {k: v for k, v in {"steps": steps, "output_dir": output_dir, "export_dir": export_dir}.items() if v is not None}
    if model == "oracle":
        from .train.oracle import OracleTrainConfig, train as run

        cfg = load_train_config(OracleTrainConfig, config, overrides)
    elif model == "clip":
        from .train.clip import ClipTrainConfig, train as run

        cfg = load_train_config(ClipTrainConfig, config, overrides)
    run(cfg, resume=resume)


@app.command()
@edge
def demo(out: Path = typer.Option(Path("outputs/run"), "--out", help="Output directory.")):
    """What `make run` does: the package's main output with the shipped zoo."""
    world_sample(n=16, seed=0, out=out, held_out_captions=False)


def main() -> None:
    try:
        app()
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
