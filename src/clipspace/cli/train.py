"""clipspace train / sample: the zoo's trainers and unconditional samplers."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..io import InputError
from .common import StagedDir, app, check_positive, edge

TRAINERS = ("oracle", "clip", "caption-lm", "generator", "flow", "prior", "prior-ar", "decoder", "upsampler")
DEVICE_TRAINERS = ("clip", "prior", "prior-ar", "decoder", "upsampler")  # their configs take device and time_limit_s


@app.command()
@edge
def train(
    model: str = typer.Argument(..., help=f"One of: {', '.join(TRAINERS)}."),
    config: Optional[Path] = typer.Option(None, "--config", help="JSON training config (configs/<model>.json)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in the config's output_dir."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override the number of steps."),
    output_dir: Optional[str] = typer.Option(None, "--output-dir", help="Override the run directory."),
    export_dir: Optional[str] = typer.Option(None, "--export-dir", help="Override where the final model is saved."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, cuda:N or auto (clip and the unCLIP models)."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Checkpoint and stop after this many seconds; --resume goes on."),
):
    """Train a zoo model (resumable: checkpoints are atomic)."""
    import shlex
    import sys

    from ..train import common
    from ..train.common import load_train_config

    common.COMMAND = "clipspace " + shlex.join(sys.argv[1:])

    if model not in TRAINERS:
        raise InputError(f"unknown model {model!r}; expected one of {', '.join(TRAINERS)}")
    if config is not None and not config.is_file():
        raise InputError(f"{config}: no such config file")
    overrides = {"steps": steps, "output_dir": output_dir, "export_dir": export_dir, "device": device, "time_limit_s": time_limit}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if time_limit is not None and time_limit <= 0:
        raise InputError(f"--time-limit must be positive, got {time_limit}")
    for flag, value in (("--device", device), ("--time-limit", time_limit)):
        if value is not None and model not in DEVICE_TRAINERS:
            raise InputError(f"{flag} is supported for {', '.join(DEVICE_TRAINERS)}, not {model!r}")
    if model == "oracle":
        from ..train.oracle import OracleTrainConfig
        from ..train.oracle import train as run

        cfg = load_train_config(OracleTrainConfig, config, overrides)
    elif model == "clip":
        from ..train.clip import ClipTrainConfig
        from ..train.clip import train as run

        cfg = load_train_config(ClipTrainConfig, config, overrides)
    elif model == "caption-lm":
        from ..train.caption_lm import CaptionLMTrainConfig
        from ..train.caption_lm import train as run

        cfg = load_train_config(CaptionLMTrainConfig, config, overrides)
    elif model == "generator":
        from ..train.generator import GeneratorTrainConfig
        from ..train.generator import train as run

        cfg = load_train_config(GeneratorTrainConfig, config, overrides)
    elif model == "flow":
        from ..train.flow import FlowTrainConfig
        from ..train.flow import train as run

        cfg = load_train_config(FlowTrainConfig, config, overrides)
    elif model in ("prior", "prior-ar", "decoder", "upsampler"):
        from ..train.unclip import UnclipTrainConfig
        from ..train.unclip import train as run

        defaults = {"component": model, "output_dir": f"runs/{model}", "export_dir": f"zoo/{model}"}
        cfg = load_train_config(UnclipTrainConfig, config, overrides)
        if config is None:
            cfg = load_train_config(UnclipTrainConfig, None, {**defaults, **overrides})
        elif cfg.component != model:
            raise InputError(f"{config} trains {cfg.component!r}, not {model!r}")
    if hasattr(cfg, "device"):
        from ..train.common import resolve_device

        try:
            resolve_device(cfg.device)
        except (ValueError, RuntimeError) as e:
            raise InputError(f"device {cfg.device!r}: {e}") from None
    run(cfg, resume=resume)


SAMPLERS = ("generator", "caption-lm")


@app.command()
@edge
def sample(
    model: str = typer.Argument(..., help=f"One of: {', '.join(SAMPLERS)}."),
    n: int = typer.Option(8, "-n", "--num", help="Number of samples."),
    seed: int = typer.Option(0, "--seed"),
    temperature: float = typer.Option(1.0, "--temperature", help="Sampling temperature (caption-lm)."),
    psi: float = typer.Option(1.0, "--psi", help="Truncation toward the mapping's cluster means (generator); 1 = none."),
    path: str = typer.Option("", "--model-path", help="Model directory (default: the zoo's)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output directory (images; captions are printed)."),
):
    """Unconditional samples from a zoo generator or caption model."""
    import torch

    check_positive("-n", n)
    if model not in SAMPLERS:
        raise InputError(f"unknown model {model!r}; expected one of {', '.join(SAMPLERS)}")
    if temperature <= 0:
        raise InputError(f"--temperature must be positive, got {temperature}")
    if not 0 < psi <= 2:
        raise InputError(f"--psi must be in (0, 2], got {psi}")
    if model == "generator":
        from ..io import make_grid, save_png, tensor_to_pil
        from ..models.generator import Generator
        from ..zoo import resolve_model_path

        gen = Generator.from_pretrained(resolve_model_path(path or "generator"))
        images = gen.sample(n, torch.Generator().manual_seed(seed), psi=psi)
        pils = [tensor_to_pil(x) for x in images]
        out = out or Path("outputs/samples")
        with StagedDir(out) as tmp:
            for i, im in enumerate(pils):
                save_png(im, tmp / f"{i:05d}.png", {"model": "generator", "seed": seed, "psi": psi, "index": i})
            make_grid(pils).save(tmp / "grid.png")
        typer.echo(str(out / "grid.png"))
    elif model == "caption-lm":
        from ..models.caption_lm import CaptionLM

        lm = CaptionLM.from_pretrained(path or "caption-lm")
        for caption in lm.sample(n, temperature=temperature, generator=torch.Generator().manual_seed(seed)):
            typer.echo(caption)
