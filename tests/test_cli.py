import json
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from clipspace.cli import _expand_multi_value_options, app

runner = CliRunner()


def test_help_lists_commands():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("world", "train", "classify", "eval", "bench"):
        assert cmd in res.output


def test_world_sample_is_deterministic(tmp_path):
    for d in ("a", "b"):
        res = runner.invoke(app, ["world", "sample", "-n", "6", "--seed", "3", "--out", str(tmp_path / d)])
        assert res.exit_code == 0, res.output
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert {"grid.png", "captions.jsonl", "00000.png"} <= set(files)
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
    rows = [json.loads(l) for l in (tmp_path / "a" / "captions.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and set(rows[0]) == {"image", "caption", "scene"}


def test_bad_input_exits_2_without_traceback(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "clipspace.cli", "world", "sample", "-n", "0", "--out", str(tmp_path / "x")],
        capture_output=True, text=True,
    )
    assert res.returncode == 2 and "Traceback" not in res.stderr and "-n" in res.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()
    res = subprocess.run(
        [sys.executable, "-m", "clipspace.cli", "train", "nonsense"], capture_output=True, text=True
    )
    assert res.returncode == 2 and "unknown model" in res.stderr
    for args, says in ((["--device", "cuda"] if not torch.cuda.is_available() else ["--device", "tpu"], "device"),
                       (["--time-limit", "0"], "--time-limit"), (["--device", "cpu", "--steps", "1"], "")):
        if not says:  # --device on a trainer without it
            args, says = ["generator", *args], "--device"
        else:
            args = ["upsampler", *args]
        res = subprocess.run([sys.executable, "-m", "clipspace.cli", "train", *args, "--output-dir", str(tmp_path / "r")], capture_output=True, text=True)
        assert res.returncode == 2 and "Traceback" not in res.stderr and says in res.stderr, (args, res.stderr)
        assert not (tmp_path / "r").exists()


def test_labels_take_several_values():
    argv = ["classify", "a.png", "b.png", "--labels", "a red circle", "a blue star", "--json"]
    assert _expand_multi_value_options(argv) == [
        "classify", "a.png", "b.png", "--labels", "a red circle", "--labels", "a blue star", "--json"
    ]


def test_classify_json(tmp_path):
    from clipspace.zoo import list_models

    if "clip" not in list_models():
        pytest.skip("zoo/clip not trained yet")
    runner.invoke(app, ["world", "sample", "-n", "2", "--out", str(tmp_path)])
    res = subprocess.run(
        [sys.executable, "-m", "clipspace.cli", "classify", str(tmp_path / "00000.png"), str(tmp_path / "00001.png"),
         "--labels", "a red circle", "a blue star", "a green square", "--json"],
        capture_output=True, text=True,
    )
    assert res.returncode == 0, res.stderr
    rows = [json.loads(l) for l in res.stdout.splitlines()]
    assert len(rows) == 2 and len(rows[0]["labels"]) == 3
    probs = [p for _, p in rows[0]["labels"]]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-4
    res = subprocess.run(
        [sys.executable, "-m", "clipspace.cli", "classify", str(tmp_path / "missing.png"), "--labels", "a red circle"],
        capture_output=True, text=True,
    )
    assert res.returncode == 2 and "no such file" in res.stderr and "Traceback" not in res.stderr
