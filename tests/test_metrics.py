import pytest
import torch

from photostyle.metrics import StyleDistance, grey_ssim


def test_ssim_is_one_for_identity_and_drops_with_noise_and_blur():
    torch.manual_seed(0)
    y, x = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 64), indexing="ij")
    image = torch.stack([x, y, (x * y) ** 0.5])[None]
    image[..., 10:30, 20:40] = 0.9
    assert grey_ssim(image, image) == pytest.approx(1.0)
    noisy = (image + 0.2 * torch.randn_like(image)).clamp(0, 1)
    blurred = torch.nn.functional.avg_pool2d(image, 9, 1, 4, count_include_pad=False)
    assert grey_ssim(noisy, image) < 0.5
    assert grey_ssim(blurred, image) < grey_ssim(image, image)
    # A global brightness change keeps structure better than noise.
    assert grey_ssim(image * 0.8, image) > grey_ssim(noisy, image)


def test_style_distance_is_zero_for_the_style_and_larger_for_other_colours():
    torch.manual_seed(0)
    style = torch.rand(1, 3, 40, 40) * torch.tensor([1.0, 0.5, 0.2]).view(1, 3, 1, 1)
    distance = StyleDistance(style)
    assert distance(style) == pytest.approx(0.0, abs=1e-6)
    other = torch.rand(1, 3, 40, 40) * torch.tensor([0.2, 0.5, 1.0]).view(1, 3, 1, 1)
    assert distance(other) > 0.5
    assert distance(style.flip(-1)) < 0.1 * distance(other)  # the same texture mirrored: nearly the same Grams
