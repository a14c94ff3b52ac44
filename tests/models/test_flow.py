import torch
import torch.nn.functional as F

from clipspace.models.flow import ClipFlow, FlowConfig

TINY = FlowConfig(w_dim=6, cond_dim=4, blocks=2, hidden=16, reflections=2, aligner_hidden=8)


def _trained_looking_flow() -> ClipFlow:
    torch.manual_seed(0)
    flow = ClipFlow(TINY)
    flow(torch.randn(64, 6), F.normalize(torch.randn(64, 4), dim=-1))  # ActNorm's data init
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn_like(p))  # couplings start as the identity: perturb them
    return flow.eval()


def test_inverse_of_forward_is_identity():
    flow = _trained_looking_flow()
    w, e = torch.randn(32, 6), F.normalize(torch.randn(32, 4), dim=-1)
    z, _ = flow(w, e)
    assert not torch.allclose(z, w, atol=1e-2)
    assert torch.allclose(flow.decode(z, e), w, atol=1e-4)


def test_log_det_matches_brute_force_jacobian():
    flow = _trained_looking_flow()
    w, e = torch.randn(3, 6, dtype=torch.float64), F.normalize(torch.randn(3, 4, dtype=torch.float64), dim=-1)
    flow = flow.double()
    _, log_det = flow(w, e)
    for i in range(3):
        J = torch.autograd.functional.jacobian(lambda x: flow(x[None], e[i : i + 1])[0][0], w[i])
        assert torch.allclose(torch.slogdet(J)[1], log_det[i], atol=1e-6)


def test_seeded_sampling_edit_and_round_trip(tmp_path):
    flow = _trained_looking_flow()
    e = F.normalize(torch.randn(4, 4), dim=-1)
    a = flow.sample(e, 0.7, torch.Generator().manual_seed(1))
    assert torch.equal(a, flow.sample(e, 0.7, torch.Generator().manual_seed(1)))
    assert not torch.equal(a, flow.sample(e, 0.7, torch.Generator().manual_seed(2)))
    assert torch.allclose(flow.edit(a, e, e), a, atol=1e-4)  # editing toward the same condition changes nothing
    assert flow.nll(a, e).shape == (4,)
    flow.save_pretrained(tmp_path / "f")
    again = ClipFlow.from_pretrained(tmp_path / "f")
    assert torch.allclose(again.sample(e, 0.7, torch.Generator().manual_seed(1)), a, atol=1e-4)
    assert again.align_text(e).shape == e.shape
