import torch

from clipspace.models.decoder import Decoder, DecoderConfig


def _tiny(**kw) -> Decoder:
    torch.manual_seed(0)
    return Decoder(DecoderConfig(embed_dim=16, size=16, channels=(8, 16), context_tokens=2, head_dim=8, **kw)).eval()


def test_coord_channels_enter_the_unet_and_survive_a_round_trip(tmp_path):
    model = _tiny(coord_channels=True)
    assert model.unet.config.in_channels == 5
    assert model.coords.shape == (1, 2, 16, 16)
    assert torch.equal(model.coords[0, 0, 0], torch.linspace(-1, 1, 16))  # x runs along a row
    assert torch.equal(model.coords[0, 1, :, 0], torch.linspace(-1, 1, 16))  # y down a column
    x, t, emb = torch.randn(2, 3, 16, 16), torch.tensor([10, 900]), torch.randn(2, 16)
    with torch.no_grad():
        out = model(x, t, emb)
    assert out.shape == x.shape and torch.isfinite(out).all()
    model.save_pretrained(tmp_path / "d")
    again = Decoder.from_pretrained(tmp_path / "d").eval()
    assert again.config.coord_channels and "coords" not in again.state_dict()  # rebuilt, not stored
    with torch.no_grad():
        torch.testing.assert_close(again(x, t, emb), out)


def test_without_coord_channels_the_unet_reads_the_image_alone():
    assert _tiny().unet.config.in_channels == 3
