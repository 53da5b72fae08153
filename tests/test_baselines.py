import pytest
import torch

from photostyle.colour import lab_to_srgb, srgb_to_lab
from photostyle.evaluation.baselines import histogram_matching, identity, reinhard


def test_lab_of_known_colours_and_round_trip():
    colours = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]).T.reshape(1, 3, 3, 1)
    lab = srgb_to_lab(colours.double())[0, :, :, 0].T
    assert lab[0].tolist() == pytest.approx([100.0, 0.0, 0.0], abs=1e-3)  # white
    assert lab[1].tolist() == pytest.approx([53.24, 80.09, 67.20], abs=0.02)  # sRGB red (published value)
    assert lab[2].tolist() == pytest.approx([0.0, 0.0, 0.0], abs=1e-6)
    image = torch.rand(2, 3, 7, 5, dtype=torch.float64)
    assert torch.allclose(lab_to_srgb(srgb_to_lab(image)), image, atol=1e-9)


def mid_tones(seed: int, scale: tuple[float, float, float], offset: tuple[float, float, float]) -> torch.Tensor:
    torch.manual_seed(seed)
    return (
        torch.rand(1, 3, 30, 40) * torch.tensor(scale).view(1, 3, 1, 1) + torch.tensor(offset).view(1, 3, 1, 1)
    ).clamp(0, 1)


def test_reinhard_gives_the_style_lab_mean_and_std():
    content, style = mid_tones(0, (0.3, 0.3, 0.3), (0.3, 0.35, 0.3)), mid_tones(1, (0.2, 0.15, 0.1), (0.5, 0.4, 0.3))
    result = srgb_to_lab(reinhard(content, style).double())
    target = srgb_to_lab(style.double())
    assert result.mean(dim=(2, 3)).flatten().tolist() == pytest.approx(
        target.mean(dim=(2, 3)).flatten().tolist(), abs=0.05
    )
    assert result.std(dim=(2, 3)).flatten().tolist() == pytest.approx(
        target.std(dim=(2, 3)).flatten().tolist(), abs=0.05
    )
    assert torch.equal(identity(content, style), content)


def test_histogram_matching_gives_the_style_quantiles_and_keeps_flat_areas_flat():
    content, style = mid_tones(0, (1, 1, 1), (0, 0, 0)), mid_tones(1, (0.5, 0.2, 0.9), (0.2, 0.6, 0.0))
    content[..., :10, :10] = 0.25  # a flat patch: ties must map to one value
    result = histogram_matching(content, style)
    for channel in range(3):
        levels = torch.linspace(0.05, 0.95, 19)
        ours = torch.quantile(result[0, channel].flatten(), levels)
        theirs = torch.quantile(style[0, channel].flatten(), levels)
        assert torch.allclose(ours, theirs, atol=0.03)
        assert result[0, channel, :10, :10].unique().numel() == 1
    # Order is kept: a brighter content pixel never ends up darker.
    order = content[0, 0].flatten().argsort()
    assert (result[0, 0].flatten()[order].diff() >= -1e-6).all()
