"""Shared pieces of the CLI: the typer app, the input edge (exit code 2) and staged output directories."""
from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never fetch anything at run time
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # stderr stays for errors and our own bars

import typer

from ..io import InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Text to image and image to text through a shared CLIP space.")
world_app = typer.Typer(no_args_is_help=True, help="The Shapes world: sample scenes and captions.")
app.add_typer(world_app, name="world")



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


def check_positive(name: str, value: int) -> None:
    if value < 1:
        raise InputError(f"{name} must be at least 1, got {value}")


class StagedDir:
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
