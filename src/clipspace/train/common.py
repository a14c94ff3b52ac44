"""What every trainer shares: JSON configs, atomic resumable checkpoints, a seeded batch sampler, logging."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

import torch

from ..zoo import resolve_model_path

COMMAND: str | None = None  # the command line that started this process's training (set by `clipspace train`)


def load_train_config(cls, path: str | os.PathLike | None, overrides: dict | None = None):
    """A trainer config dataclass from a JSON file (unknown keys are an error), plus overrides."""
    raw = json.loads(Path(path).read_text()) if path else {}
    raw.update(overrides or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names - {"_comment"})
    if unknown:
        raise ValueError(f"unknown keys {unknown} in {path}; {cls.__name__} takes {sorted(names)}")
    return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in raw.items() if k in names})


def resolve_device(name: str) -> torch.device:
    """A trainer's `device` option: "cpu", "cuda", "cuda:1", or "auto" (the GPU when there is one)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but torch sees no CUDA GPU (use 'cpu' or 'auto')")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return device


def step_generator(seed: int, step: int) -> torch.Generator:
    """The generator for one training step: resuming at step k draws exactly what the first run drew."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


class RunDir:
    """<output_dir>/checkpoint.pt (atomic), log.jsonl and config.json of one training run."""

    def __init__(self, output_dir: str | os.PathLike, config, resume: bool):
        self.path = Path(output_dir)
        self.ckpt = self.path / "checkpoint.pt"
        if self.ckpt.exists() and not resume:
            raise FileExistsError(f"{self.ckpt} exists: pass --resume to continue it, or choose another output_dir")
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
        # the record of the model a fine-tune starts from, kept when the run starts: a run that exports into its
        # own init_from dir (zoo/x from zoo/x) would otherwise read its own earlier export as its origin
        init_from = getattr(config, "init_from", None)
        if not self.ckpt.exists() and init_from:
            try:  # a zoo name ("clip-eval") or a directory, as the trainers' from_pretrained take it
                record = resolve_model_path(init_from) / "training.json"
            except FileNotFoundError:
                record = None
            if record is not None and record.exists():
                shutil.copyfile(record, self.path / "init_training.json")
        self.t0 = time.time()
        self.elapsed_before = 0.0
        self.commands: list[str] = []  # every session's command line, oldest first
        self.stateful: dict = {}

    def load(self) -> dict | None:
        if not self.ckpt.exists():
            return None
        state = torch.load(self.ckpt, map_location="cpu", weights_only=False)
        self.elapsed_before = state.get("wall_time", 0.0)
        self.commands = state.get("commands", [])
        return state

    def track(self, **stateful) -> dict | None:
        """Checkpoint these objects (models, optimizers, schedulers) under their names from now on, and restore
        them from the run's checkpoint if there is one. Returns the checkpoint's other fields (step, stage, ...),
        or None for a fresh run. An object that an older checkpoint lacks keeps its fresh state."""
        self.stateful = stateful
        state = self.load()
        if state is None:
            return None
        for name, obj in stateful.items():
            if name in state:
                obj.load_state_dict(state.pop(name))
        return state

    def out_of_time(self, limit_s: float) -> bool:
        """True once this session has trained for `limit_s` seconds (0: no limit); the trainer then
        checkpoints and stops, and `--resume` continues the run (on another machine too)."""
        return bool(limit_s) and time.time() - self.t0 >= limit_s

    @property
    def session_commands(self) -> list[str]:
        """The commands of earlier sessions (from the checkpoint) and this one's."""
        return self.commands + ([COMMAND] if COMMAND else [])

    @property
    def wall_time(self) -> float:
        """Training seconds over all sessions of this run."""
        return self.elapsed_before + time.time() - self.t0

    def save(self, **fields) -> None:
        """Atomically write the tracked objects' state and `fields` (step, stage, ...) to checkpoint.pt."""
        state = {**{n: o.state_dict() for n, o in self.stateful.items()}, **fields, "wall_time": self.wall_time, "commands": self.session_commands}
        tmp = self.ckpt.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.ckpt)

    def record_export(self, export_dir: str | os.PathLike, config, command: str, **extra) -> None:
        """Write <export_dir>/training.json: how this zoo model was made (config, command, wall time; for a run
        started from another model's weights (`init_from`), that model's training.json as "init")."""
        lineage = self.path / "init_training.json"
        info = {
            "command": COMMAND or command,
            **({"sessions": self.session_commands} if len(self.session_commands) > 1 else {}),
            "config": dataclasses.asdict(config),
            "train_wall_time_s": round(self.wall_time, 1),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            **({"init": json.loads(lineage.read_text())} if lineage.exists() else {}),
            **extra,
        }
        Path(export_dir).mkdir(parents=True, exist_ok=True)
        (Path(export_dir) / "training.json").write_text(json.dumps(info, indent=2) + "\n")

    def export(self, model, export_dir: str | os.PathLike | None, config, trainer: str, **extra) -> None:
        """Save `model` in fp16 to a zoo directory with its training.json (nothing when export_dir is None)."""
        if not export_dir:
            return
        model.eval()
        model.save_pretrained(export_dir, dtype=torch.float16)
        self.record_export(export_dir, config, f"clipspace train {trainer} --config configs/{Path(export_dir).name}.json", **extra)

    def log(self, record: dict) -> None:
        record = {**record, "wall_time": round(self.wall_time, 1)}
        with open(self.path / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
