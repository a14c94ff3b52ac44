"""clipspace caption: image -> text (GLaSS's guided decoder, or its prefix search)."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from ..io import InputError
from .common import app, check_positive, edge

CAPTION_METHODS = ("glass", "prefix")


@app.command()
@edge
def caption(
    images: list[Path] = typer.Argument(..., help="Image files."),
    method: str = typer.Option("glass", "--method", help=f"One of: {', '.join(CAPTION_METHODS)}."),
    decoder: str = typer.Option("guided", "--decoder", help="glass: ga (prefix search, the paper) or guided (fast)."),
    num_captions: int = typer.Option(1, "--num-captions", help="Captions per image, best first."),
    seed: int = typer.Option(0, "--seed"),
    clip: str = typer.Option("clip-caption", "--clip", help="The CLIP that judges captions (zoo/clip when zoo/clip-caption is absent)."),
    as_json: bool = typer.Option(False, "--json", help='One JSON object per image: {"image", "caption"}.'),
    generations: int = typer.Option(10, "--generations", help="ga: generations of the prefix search."),
    population: int = typer.Option(32, "--population", help="ga: prefixes per generation."),
    prefix_length: int = typer.Option(3, "--prefix-length", help="ga: tokens searched before greedy continuation."),
    top_k: int = typer.Option(8, "--top-k", help="guided: next words the LM proposes at each step."),
    beam: int = typer.Option(4, "--beam", help="guided: partial captions kept at each step."),
    refine: int = typer.Option(0, "--refine", help="guided: rounds of phrase insertion into the best caption (0: off; 2 helps with --no-place)."),
    place: bool = typer.Option(True, "--place/--no-place", help="Place every object a caption names where CLIP reads it in region views of the image, one grid cell at a time."),
    random_start: bool = typer.Option(False, "--random-start", help="ga: first prefixes uniformly random (the paper) instead of sampled from the caption model."),
):
    """Image -> text."""
    from ..io import load_images

    check_positive("--num-captions", num_captions)
    for name, value in (("--generations", generations), ("--population", population), ("--prefix-length", prefix_length),
                        ("--top-k", top_k), ("--beam", beam)):
        check_positive(name, value)
    if refine < 0:
        raise InputError(f"--refine must be >= 0, got {refine}")
    if clip != "clip-caption":  # a CLIP named on the command line must exist; the default falls back to zoo/clip
        from ..zoo import resolve_model_path

        resolve_model_path(clip)
    if method not in CAPTION_METHODS:
        raise InputError(f"--method must be one of {', '.join(CAPTION_METHODS)}, got {method!r}")
    if method != "glass":
        raise InputError(f"caption method {method!r} is not available yet in this release (available: glass)")
    x = load_images([str(p) for p in images])
    from ..pipelines.glass import GlassPipeline

    pipe = GlassPipeline.from_pretrained(caption_clip=clip)
    res = pipe.caption(x, method=decoder, num_captions=num_captions, seed=seed, population=population, generations=generations,
                       prefix_length=prefix_length, top_k=top_k, beam=beam, lm_start=not random_start, place=place, refine=refine)
    for path, caps, scores in zip(images, res.captions, res.scores):
        if as_json:
            row = {"image": str(path), "caption": caps[0] if caps else ""}
            if num_captions > 1:
                row["captions"] = [[c, round(s, 6)] for c, s in zip(caps, scores)]
            typer.echo(json.dumps(row))
        else:
            typer.echo(f"{path}: " + " | ".join(caps))
