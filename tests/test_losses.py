import pytest
import torch

from photostyle.evaluation.metrics import grey_ssim
from photostyle.training.loss import (
    PhotorealStyleLoss,
    content_loss,
    gram_matrix,
    out_of_range,
    relative_mse,
    sliced_colour_loss,
    structure_loss,
    style_loss,
    total_variation,
)


def test_gram_matrix_matches_explicit_sum_and_is_symmetric_psd():
    torch.manual_seed(0)
    features = torch.randn(2, 5, 4, 3)
    gram = gram_matrix(features)
    explicit = torch.zeros(2, 5, 5)
    for b in range(2):
        for i in range(5):
            for j in range(5):
                explicit[b, i, j] = (features[b, i] * features[b, j]).sum() / 12
    torch.testing.assert_close(gram, explicit)
    torch.testing.assert_close(gram, gram.transpose(1, 2))
    assert torch.linalg.eigvalsh(gram).min() > -1e-5


def test_gram_is_size_independent_for_a_repeated_texture():
    tile = torch.randn(1, 3, 4, 4)
    torch.testing.assert_close(gram_matrix(tile), gram_matrix(tile.repeat(1, 1, 3, 2)))


def test_relative_mse_is_scale_free():
    a, b = torch.rand(10), torch.rand(10)
    assert relative_mse(a, b) == pytest.approx(relative_mse(1000 * a, 1000 * b).item(), rel=1e-5)
    assert relative_mse(b, b) == 0


def test_content_loss_zero_for_same_features_and_grows_with_change():
    features = {"relu4_1": torch.rand(2, 8, 4, 4), "relu3_1": torch.rand(2, 4, 8, 8)}
    assert content_loss(features, features, ["relu4_1", "relu3_1"]) == 0
    changed = {k: v + 0.1 for k, v in features.items()}
    small = content_loss(changed, features, ["relu4_1"])
    assert 0 < small < content_loss({k: v + 0.3 for k, v in features.items()}, features, ["relu4_1"])


def test_style_loss_uses_layer_weights_and_is_zero_at_the_target():
    torch.manual_seed(0)
    output = {"relu1_1": torch.rand(2, 4, 6, 6), "relu2_1": torch.rand(2, 8, 3, 3)}
    targets = {name: gram_matrix(f[:1]) for name, f in output.items()}
    same = {name: f[:1].expand(2, -1, -1, -1) for name, f in output.items()}
    assert style_loss(same, targets, {"relu1_1": 1.0, "relu2_1": 1.0}) == 0
    one = style_loss(output, targets, {"relu1_1": 1.0})
    assert one > 0
    assert style_loss(output, targets, {"relu1_1": 3.0}) == pytest.approx(3 * one.item())
    assert style_loss(output, targets, {"relu1_1": 1.0, "relu2_1": 0.0}) == pytest.approx(one.item())


def test_content_colours_give_the_content_target_the_style_colour_statistics():
    generator = torch.Generator().manual_seed(0)
    style = torch.rand(1, 3, 24, 32, generator=generator) * torch.tensor([0.9, 0.5, 0.2]).view(1, 3, 1, 1)
    content = torch.rand(2, 3, 20, 20, generator=generator) * 0.5 + 0.25
    anchored = PhotorealStyleLoss(["relu1_1"], {"relu1_1": 1.0}, content_colours=1.0)
    anchored.set_style(style)
    target = anchored.content_target(content)
    torch.testing.assert_close(target.mean(dim=(2, 3)), style.mean(dim=(2, 3)).expand(2, 3), atol=2e-3, rtol=0)
    plain = PhotorealStyleLoss(["relu1_1"], {"relu1_1": 1.0})
    plain.set_style(style)
    assert plain.content_target(content) is content


def test_total_variation_zero_for_flat_positive_for_noise():
    assert total_variation(torch.full((1, 3, 8, 8), 0.3)) == 0
    ramp = torch.linspace(0, 1, 8).view(1, 1, 1, 8).expand(1, 3, 8, 8)
    assert total_variation(ramp) == pytest.approx((1 / 7) ** 2)
    assert total_variation(torch.rand(1, 3, 8, 8)) > 0.1


def test_sliced_colour_loss_pulls_colours_to_the_style_distribution():
    """Zero for the style's own colours in any order (where a colour sits does not matter);
    descending it takes a photo's colours towards the style's distribution (a two-tone style)."""
    generator = torch.Generator().manual_seed(0)
    directions = torch.nn.functional.normalize(torch.randn(16, 3, generator=generator), dim=1)
    tones = torch.tensor([[70.0, 20.0, -30.0], [30.0, -10.0, 40.0]])
    style = torch.cat([tones[0].expand(500, 3), tones[1].expand(500, 3)])
    style_sorted = (directions @ style.T).sort(dim=-1).values
    shuffled = style[torch.randperm(1000, generator=generator)].T[None]  # (1, 3, N)
    assert sliced_colour_loss(shuffled, style_sorted, directions) < 1e-8  # float32 rounding
    colours = (50 + 20 * torch.randn(1, 400, 3, generator=generator)).transpose(1, 2).detach().requires_grad_()
    optimiser = torch.optim.Adam([colours], lr=1.0)
    start = sliced_colour_loss(colours, style_sorted, directions).item()
    for _ in range(300):
        optimiser.zero_grad()
        sliced_colour_loss(colours, style_sorted, directions).backward()
        optimiser.step()
    assert sliced_colour_loss(colours, style_sorted, directions).item() < 0.05 * start
    moved = colours.detach()[0].T
    torch.testing.assert_close(moved.mean(dim=0), style.mean(dim=0), atol=1.0, rtol=0)


def test_photoreal_term_can_leave_clipping_to_the_other_terms():
    """A global affine recolouring that overshoots [0, 1] is locally affine as made, not once clipped:
    photoreal_clipped=False judges the output as the network made it, True as a saved photo shows it."""
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 24, 24, generator=generator)
    style = torch.rand(1, 3, 24, 24, generator=generator)
    overshoot = 1.6 * content - 0.3  # about a third of the values leave [0, 1]
    terms = {}
    for clipped in (True, False):
        loss = PhotorealStyleLoss(["relu1_1"], {"relu1_1": 1.0}, photoreal_weight=1.0, photoreal_clipped=clipped)
        loss.set_style(style)
        terms[clipped] = loss(overshoot, content)
    assert terms[False]["photoreal"] < 1e-3 * terms[True]["photoreal"]
    # Every other term sees the clipped photo either way.
    torch.testing.assert_close(terms[False]["style"], terms[True]["style"])
    torch.testing.assert_close(terms[False]["content"], terms[True]["content"])


def test_range_term_charges_only_what_a_saved_photo_would_clip():
    """Zero inside [0, 1]; outside it, the mean squared distance to [0, 1], on the output as made
    (the clamp that every other term sees would hide it)."""
    inside = torch.rand(1, 3, 8, 8)
    assert out_of_range(inside) == 0
    image = torch.zeros(1, 1, 2, 2)
    image[0, 0, 0] = torch.tensor([-0.5, 1.5])  # two of four values 0.5 outside
    assert out_of_range(image) == pytest.approx(0.5**2 / 2)
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 24, 24, generator=generator)
    loss = PhotorealStyleLoss(["relu1_1"], {"relu1_1": 1.0}, range_weight=10.0)
    loss.set_style(torch.rand(1, 3, 24, 24, generator=generator))
    overshoot = 1.6 * content - 0.3
    assert loss(overshoot, content)["range"] == pytest.approx(10 * out_of_range(overshoot).item())
    assert loss(overshoot.clamp(0, 1), content)["range"] == 0


def test_structure_term_is_the_metrics_ssim_and_its_gradient_restores_detail():
    """The term is 1 - the evaluation's grey SSIM against the content (mean over the batch), 0
    for the content itself, and descending it gives a flattened photo its detail back."""
    generator = torch.Generator().manual_seed(0)
    content = 0.2 + 0.6 * torch.rand(2, 3, 24, 24, generator=generator)
    flattened = content.mean() + 0.3 * (content - content.mean())
    loss = PhotorealStyleLoss(["relu1_1"], {"relu1_1": 1.0}, structure_weight=5.0)
    loss.set_style(torch.rand(1, 3, 24, 24, generator=generator))
    assert loss(content, content)["structure"] == pytest.approx(0, abs=1e-6)
    per_photo = [grey_ssim(flattened[i : i + 1], content[i : i + 1]) for i in range(2)]
    assert loss(flattened, content)["structure"] == pytest.approx(5 * (1 - sum(per_photo) / 2), rel=1e-5)
    output = flattened.clone().requires_grad_()
    optimizer = torch.optim.SGD([output], lr=2.0)
    for _ in range(20):
        optimizer.zero_grad()
        structure_loss(output, content).backward()
        optimizer.step()
    assert grey_ssim(output[:1].detach(), content[:1]) > per_photo[0] + 0.1
    # bf16 inputs (training under autocast) are measured in float32: a mild tone change of
    # about 0.005 in bf16 arithmetic would read as 0.009.
    toned = 0.9 * content + 0.05
    assert structure_loss(toned.bfloat16(), content.bfloat16()) == pytest.approx(
        structure_loss(toned, content).item(), abs=5e-4
    )


def test_every_term_under_bf16_autocast_is_close_to_float32_and_gives_a_finite_gradient():
    """hardware=gpu trains under bf16 autocast, where the network's output is bf16: each term
    still gives about its float32 value and a finite gradient, and the colour term, which sorts
    and reads quantiles, runs in float32 (in bf16, 12,288 pixels' quantile levels round past the
    style's last value)."""
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 96, 128, generator=generator)
    output = (0.8 * content + 0.1).bfloat16().requires_grad_()
    loss = PhotorealStyleLoss(
        ["relu2_1"],
        {"relu1_1": 1.0, "relu2_1": 1.0},
        photoreal_weight=1.0,
        colour_weight=10.0,
        structure_weight=1.0,
        range_weight=1.0,
        content_colours=0.5,
    )
    loss.set_style(torch.rand(1, 3, 40, 40, generator=generator))
    expected = loss(output.detach().float(), content)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = loss(output, content)
    terms["loss"].backward()
    assert torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0
    assert set(terms) == set(expected) == {"content", "style", "photoreal", "colour", "range", "structure", "loss"}
    for name, value in terms.items():
        assert value.item() == pytest.approx(expected[name].item(), rel=0.05, abs=1e-6), name
    assert terms["colour"].dtype == torch.float32
    assert terms["colour"].item() == pytest.approx(expected["colour"].item(), rel=1e-6)
