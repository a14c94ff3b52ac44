import io

import numpy as np
import pytest
import torch
from PIL import Image

from clipspace.io import InputError, load_image, load_images, read_png_settings, save_png


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "P", "I;16", "CMYK", "1", "F"])
def test_any_mode_becomes_rgb_64(mode):
    img = Image.new("RGB", (100, 70), (200, 30, 30)).convert(mode)
    out = load_image(img)
    assert out.mode == "RGB" and out.size == (64, 64)


def test_sources_agree():
    arr = np.zeros((64, 64, 3), np.uint8)
    arr[10:20, 10:20] = (220, 40, 40)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    from_bytes = np.asarray(load_image(buf.getvalue()))
    assert (from_bytes == arr).all()
    assert (np.asarray(load_image(arr)) == arr).all()
    assert (np.asarray(load_image(arr.astype(np.float32) / 255)) == arr).all()
    t = torch.from_numpy(arr).permute(2, 0, 1).float() / 255
    assert (np.asarray(load_image(t)) == arr).all()
    batch = load_images([arr, arr])
    assert batch.shape == (2, 3, 64, 64) and 0 <= batch.min() and batch.max() <= 1


def test_transparent_pixels_go_black_and_non_square_is_center_cropped():
    rgba = np.zeros((64, 128, 4), np.uint8)
    rgba[..., 0] = 255  # red but fully transparent
    rgba[:, 32:96, 3] = 255  # opaque centre square
    out = np.asarray(load_image(rgba))
    assert (out[..., 0] == 255).all()  # the centre crop is the opaque part
    clear = np.zeros((8, 8, 4), np.uint8)
    clear[..., 1] = 255
    assert np.asarray(load_image(clear)).max() == 0


@pytest.mark.parametrize("bad", [b"not an image", "missing.png"])
def test_bad_input_is_a_clear_error(tmp_path, bad):
    with pytest.raises(InputError):
        load_image(bad if isinstance(bad, bytes) else tmp_path / bad)
    txt = tmp_path / "notes.png"
    txt.write_text("hello")
    with pytest.raises(InputError, match="not a readable image"):
        load_image(txt)
    with pytest.raises(InputError):
        load_image(tmp_path)
    with pytest.raises(InputError):
        load_image(np.zeros((3, 3, 7)))
    with pytest.raises(InputError):
        load_image(12)


def test_png_settings_round_trip(tmp_path):
    settings = {"prompt": "a red circle", "method": "glass", "seed": 3}
    save_png(Image.new("RGB", (64, 64)), tmp_path / "a.png", settings)
    assert read_png_settings(tmp_path / "a.png") == settings
    assert not list(tmp_path.glob("*.tmp"))
