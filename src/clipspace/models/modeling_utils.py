"""save_pretrained / from_pretrained for clipspace's own modules: <dir>/config.json + model.safetensors."""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


class PretrainedMixin:
    """Mix into an nn.Module whose __init__ takes one config dataclass (`config_class`)."""

    config_class: type
    model_type: str

    def save_pretrained(self, path: str | os.PathLike, dtype: torch.dtype | None = None) -> None:
        """Write config.json and model.safetensors atomically (fp16 when dtype=torch.float16)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = {"model_type": self.model_type, **dataclasses.asdict(self.config)}
        state, seen = {}, set()
        for k, v in self.state_dict().items():
            if v.numel() and (v.data_ptr(), tuple(v.shape)) in seen:  # tied weights (an LM head sharing its embedding) are stored once
                continue
            seen.add((v.data_ptr(), tuple(v.shape)))
            v = v.detach().cpu()
            if dtype is not None and v.is_floating_point():
                v = v.to(dtype)
            state[k] = v.contiguous()
        tmp = path / "model.safetensors.tmp"
        save_file(state, str(tmp), metadata={"format": "pt"})
        os.replace(tmp, path / "model.safetensors")
        (path / "config.json.tmp").write_text(json.dumps(config, indent=2) + "\n")
        os.replace(path / "config.json.tmp", path / "config.json")

    @classmethod
    def load_config(cls, path: str | os.PathLike):
        path = Path(path)
        cfg_file = path / "config.json"
        if not cfg_file.is_file():
            raise FileNotFoundError(f"no config.json in {path}: not a {cls.__name__} directory")
        raw = json.loads(cfg_file.read_text())
        model_type = raw.pop("model_type", cls.model_type)
        if model_type != cls.model_type:
            raise ValueError(f"{path} holds a {model_type!r} model, expected {cls.model_type!r}")
        fields = {f.name for f in dataclasses.fields(cls.config_class)}
        return cls.config_class(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in raw.items() if k in fields})

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike):
        model = cls(cls.load_config(path))
        state = load_file(str(Path(path) / "model.safetensors"))
        own = model.state_dict()
        state = {k: v.to(own[k].dtype) if k in own else v for k, v in state.items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        tied = _tied_keys(model)
        if unexpected or any(k not in tied for k in missing):
            raise ValueError(f"{path}: weights do not match {cls.__name__} (missing {missing[:5]}, unexpected {unexpected[:5]})")
        return model.eval()


def _tied_keys(model) -> set[str]:
    """State-dict keys whose tensor is shared with an earlier key."""
    seen, tied = set(), set()
    for k, v in model.state_dict().items():
        key = (v.data_ptr(), tuple(v.shape))
        if v.numel() and key in seen:
            tied.add(k)
        seen.add(key)
    return tied
