"""clipspace world sample, and the demo behind `make run`."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from .common import StagedDir, app, check_positive, edge, world_app

# The text -> image method `make run` uses once its zoo models exist: the one with the best held-out
# oracle match in the README's table. None while no method has trained weights.
DEFAULT_METHOD: str | None = "unclip"
DEFAULT_PROMPT = "a small red circle on a black background"


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
    from PIL import Image

    from ..io import make_grid, save_png
    from ..world import caption_scene, render, sample_scene

    check_positive("-n", n)
    rng = np.random.default_rng(seed)
    with StagedDir(out) as tmp:
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
def demo(
    out: Path = typer.Option(Path("outputs/run"), "--out", help="Output directory."),
    prompt: str = typer.Option(DEFAULT_PROMPT, "--prompt", help="The prompt, once a text-to-image method ships."),
):
    """What `make run` does: the package's main output with the shipped zoo.

    With DEFAULT_METHOD's models in the zoo: images for the prompt. Until then, a contact sheet of
    world scenes with their captions and what the oracle reads in each.
    """
    from ..eval.suite import NEEDS
    from ..zoo import list_models

    if DEFAULT_METHOD is not None and all(m in list_models() for m in NEEDS[DEFAULT_METHOD]):
        from .generate import _pipeline, _run_images

        pipe = _pipeline(DEFAULT_METHOD, "clip")
        return _run_images(pipe, DEFAULT_METHOD, [{"prompt": prompt}], 0, 4, out, 0, False, {})
    world_sample(n=16, seed=0, out=out, held_out_captions=False)
    if "oracle" in list_models():
        from ..eval.metrics import load_oracle
        from ..io import load_images

        lines = [json.loads(l) for l in (out / "captions.jsonl").read_text().splitlines()]
        reading = load_oracle().read(load_images([str(out / l["image"]) for l in lines]))
        with open(out / "oracle.jsonl", "w") as f:
            for b, l in enumerate(lines):
                f.write(json.dumps({"image": l["image"], "caption": l["caption"], "oracle": reading.describe(b)}) + "\n")
