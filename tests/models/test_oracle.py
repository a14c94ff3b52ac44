import numpy as np
import torch

from clipspace.eval.report import evaluate_oracle
from clipspace.eval.metrics import load_oracle
from clipspace.models.oracle import IGNORE, Oracle, OracleConfig, oracle_loss, scene_targets
from clipspace.world.datasets import scene_at


def test_tiny_oracle_shapes_loss_and_round_trip(tmp_path):
    torch.manual_seed(0)
    model = Oracle(OracleConfig(channels=(8, 8, 8), hidden=16)).eval()
    x = torch.rand(4, 3, 64, 64)
    out = model(x)
    assert out["background"].shape == (4, 3) and out["present"].shape == (4, 9)
    assert out["color"].shape == (4, 9, 8) and out["shape"].shape == (4, 9, 5) and out["size"].shape == (4, 9, 2)
    t = [scene_targets(scene_at("train", i)) for i in range(4)]
    targets = {k: torch.as_tensor(np.stack([r[k] for r in t])) for k in t[0]}
    assert torch.isfinite(oracle_loss(out, targets))
    model.save_pretrained(tmp_path / "o")
    again = Oracle.from_pretrained(tmp_path / "o")
    assert torch.allclose(again(x)["present"], out["present"], atol=1e-5)
    reading = model.read(x)
    assert ((reading.confidence() >= 0) & (reading.confidence() <= 1)).all()


def test_scene_targets_mark_empty_cells():
    scene = scene_at("train", 0)
    t = scene_targets(scene)
    assert t["present"].sum() == len(scene.objects)
    assert ((t["color"] == IGNORE) == (t["present"] == 0)).all()


def test_zoo_oracle_reads_test_scenes():
    """The shipped oracle on 500 test scenes: near-perfect clean, robust to degradations."""
    res = evaluate_oracle(load_oracle(), n=500)
    for attr in ("color", "shape", "size", "position", "background"):
        assert res["clean"][attr] >= 0.99, (attr, res["clean"])
        assert res["all"][attr] >= 0.93, (attr, res["all"])
    assert res["clean"]["full_match"] >= 0.97
    # it is not fooled by noise: a blank canvas reads as no objects
    blank = load_oracle().read(torch.zeros(2, 3, 64, 64))
    assert blank.present.max() < 0.5
