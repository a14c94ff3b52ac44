"""The generate / variations / caption commands end to end, on a zoo of tiny random models."""
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from clipspace.io import read_png_settings
from tests.tiny import tiny_caption_lm, tiny_clip, tiny_critic, tiny_generator


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    zoo = tmp_path_factory.mktemp("zoo")
    tiny_generator().save_pretrained(zoo / "generator")
    tiny_clip().save_pretrained(zoo / "clip")
    tiny_critic().save_pretrained(zoo / "critic")
    tiny_caption_lm().save_pretrained(zoo / "caption-lm")
    return zoo


def run(zoo, *args):
    env = {**os.environ, "CLIPSPACE_ZOO": str(zoo)}
    return subprocess.run([sys.executable, "-m", "clipspace.cli", *args], capture_output=True, text=True, env=env)


def test_generate_writes_pngs_and_results(tiny_zoo, tmp_path):
    out = tmp_path / "gen"
    res = run(tiny_zoo, "generate", "a red circle", "--method", "glass", "-n", "2", "--seed", "3", "--out", str(out),
              "--generations", "3", "--population", "6", "--save-every", "1", "--gif")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and [r["seed"] for r in rows] == [3, 4]
    for r in rows:
        assert {"image", "prompt", "method", "seed", "clip_score"} <= set(r) and r["method"] == "glass"
        assert Image.open(out / r["image"]).size == (64, 64)
        assert read_png_settings(out / r["image"])["prompt"] == "a red circle"
    assert (out / "p000_00_progress.gif").exists() and (out / "p000_01_progress.gif").exists()
    assert len(list((out / "progress").iterdir())) == 6


def test_prompts_file_variations_and_caption(tiny_zoo, tmp_path):
    pf = tmp_path / "prompts.txt"
    pf.write_text("a red circle\n\na blue star\n")
    res = run(tiny_zoo, "generate", "--prompts", str(pf), "-n", "1", "--out", str(tmp_path / "g"), "--generations", "2", "--population", "4")
    assert res.returncode == 0, res.stderr
    assert len((tmp_path / "g" / "results.jsonl").read_text().splitlines()) == 2
    img = tmp_path / "g" / "p000_00.png"
    res = run(tiny_zoo, "variations", str(img), "-n", "2", "--out", str(tmp_path / "v"), "--generations", "2", "--population", "4",
              "--negative", "a blue star", "--save-every", "1")
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "v" / "progress").iterdir())) == 4  # 2 images x 2 generations
    res = run(tiny_zoo, "caption", str(img), "--decoder", "ga", "--generations", "2", "--population", "4", "--prefix-length", "2")
    assert res.returncode == 0, res.stderr
    res = run(tiny_zoo, "caption", str(img), str(img), "--json", "--refine", "1", "--no-place")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(l) for l in res.stdout.splitlines()]
    assert len(rows) == 2 and set(rows[0]) == {"image", "caption"} and rows[0]["caption"]


@pytest.mark.parametrize("args, message", [
    (["generate", "", "--out", "OUT"], "PROMPT"),
    (["generate", "a red circle", "-n", "0", "--out", "OUT"], "-n"),
    (["generate", "a red circle", "--generations", "0", "--out", "OUT"], "generations"),
    (["generate", "a red circle", "--method", "magic", "--out", "OUT"], "--method"),
    (["generate", "a red circle", "--image", "missing.png", "--out", "OUT"], "no such file"),
    (["variations", "missing.png", "--out", "OUT"], "no such file"),
    (["caption", "missing.png"], "no such file"),
    (["caption", "missing.png", "--refine", "-1"], "--refine"),
    (["caption", "missing.png", "--clip", "no-such-clip"], "no-such-clip"),
    (["generate", "!!!", "--out", "OUT"], "word"),
    (["interpolate", "a red circle", "missing.png", "--method", "flow", "--out", "OUT"], "no such image"),
])
def test_bad_input_exits_2_and_leaves_nothing(tiny_zoo, tmp_path, args, message):
    out = tmp_path / "out"
    res = run(tiny_zoo, *[str(out) if a == "OUT" else a for a in args])
    assert res.returncode == 2 and message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "out.partial").exists()


@pytest.fixture(scope="module")
def tiny_flow_zoo(tiny_zoo):
    from tests.tiny import tiny_flow, tiny_regressor

    tiny_flow().save_pretrained(tiny_zoo / "flow")
    tiny_regressor().save_pretrained(tiny_zoo / "flow-baseline")
    return tiny_zoo


def test_flow_generate_edit_interpolate(tiny_flow_zoo, tmp_path):
    res = run(tiny_flow_zoo, "generate", "a red circle", "--method", "flow", "-n", "3", "--temperature", "0.5", "--out", str(tmp_path / "g"))
    assert res.returncode == 0, res.stderr
    rows = [json.loads(l) for l in (tmp_path / "g" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and rows[0]["method"] == "flow" and rows[0]["temperature"] == 0.5
    img = tmp_path / "g" / rows[0]["image"]
    res = run(tiny_flow_zoo, "edit", str(img), "--source", "a red circle", "--target", "a blue circle", "--out", str(tmp_path / "e"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "e" / "edit.png").exists()
    res = run(tiny_flow_zoo, "interpolate", "a red circle", str(img), "--steps", "3", "--method", "flow", "--out", str(tmp_path / "i"),
              "--psi", "0.7", "--text-condition", "direct")
    assert res.returncode == 0, res.stderr
    rows = [json.loads(l) for l in (tmp_path / "i" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and rows[0]["psi"] == 0.7 and rows[0]["text_condition"] == "direct"
    res = run(tiny_flow_zoo, "variations", str(img), "--method", "flow", "-n", "2", "--out", str(tmp_path / "v"))
    assert res.returncode == 0, res.stderr
    res = run(tiny_flow_zoo, "generate", "a red circle", "--method", "flow", "--temperature", "-1", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "--temperature" in res.stderr


def test_unclip_generate_variations_interpolate(tiny_zoo, tmp_path):
    from clipspace.pipelines.unclip import UnclipSettings
    from tests.tiny import tiny_unclip_parts

    prior, decoder, upsampler = tiny_unclip_parts()
    for name, m in (("prior", prior), ("decoder", decoder), ("upsampler", upsampler)):
        m.save_pretrained(tiny_zoo / name)
    fast = ["--steps", "2", "--prior-steps", "2"]
    res = run(tiny_zoo, "generate", "a red circle", "--method", "unclip", "-n", "2", "--out", str(tmp_path / "g"), *fast)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(l) for l in (tmp_path / "g" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and rows[0]["decoder_steps"] == 2 and rows[0]["decoder_guidance_interval"] == list(UnclipSettings.decoder_guidance_interval)
    assert rows[0]["prior_guidance_scale"] == UnclipSettings.prior_guidance_scale  # unset options: the pipeline's defaults
    img = tmp_path / "g" / rows[0]["image"]
    res = run(tiny_zoo, "variations", str(img), "--method", "unclip", "-n", "2", "--out", str(tmp_path / "v"), *fast)
    assert res.returncode == 0, res.stderr
    res = run(tiny_zoo, "interpolate", "a red circle", str(img), "--steps", "3", "--method", "unclip", "--out", str(tmp_path / "i"),
              "--decoder-steps", "2", "--prior-steps", "2")
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "i" / "results.jsonl").read_text().splitlines()[0])["decoder_steps"] == 2
    res = run(tiny_zoo, "generate", "a red circle", "--method", "unclip", "--guidance-scale", "-1", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "guidance" in res.stderr and not (tmp_path / "x").exists()
    res = run(tiny_zoo, "generate", "a red circle", "--method", "unclip", "--guidance-interval", "600", "500", "--out", str(tmp_path / "x"))
    assert res.returncode == 2 and "decoder_guidance_interval" in res.stderr and not (tmp_path / "x").exists()
