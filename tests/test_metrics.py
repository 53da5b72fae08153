import pytest
import torch

from photostyle.colour import lab_to_srgb, srgb_to_lab
from photostyle.evaluation.metrics import StyleDistance, affine_residual, colour_distance, grey_ssim, grey_ssim_terms


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


def test_ssim_terms_tell_a_tone_change_from_lost_detail():
    torch.manual_seed(0)
    image = 0.3 + 0.4 * torch.rand(1, 3, 40, 40)
    ssim, luminance, structure = grey_ssim_terms(image - 0.25, image)  # darker, detail untouched
    assert structure == pytest.approx(1.0, abs=1e-4)
    assert luminance < 0.9 and ssim == pytest.approx(luminance, abs=1e-3)
    flattened = image.mean() + 0.3 * (image - image.mean())  # same tone, a third of the detail
    ssim, luminance, structure = grey_ssim_terms(flattened, image)
    assert luminance > 0.99 and structure < 0.8
    assert ssim == pytest.approx(grey_ssim(flattened, image))


def test_style_distance_is_zero_for_the_style_and_larger_for_other_colours():
    torch.manual_seed(0)
    style = torch.rand(1, 3, 40, 40) * torch.tensor([1.0, 0.5, 0.2]).view(1, 3, 1, 1)
    distance = StyleDistance(style)
    assert distance(style) == pytest.approx(0.0, abs=1e-6)
    other = torch.rand(1, 3, 40, 40) * torch.tensor([0.2, 0.5, 1.0]).view(1, 3, 1, 1)
    assert distance(other) > 0.5
    assert distance(style.flip(-1)) < 0.1 * distance(other)  # the same texture mirrored: nearly the same Grams


def photo_like(seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, 40), torch.linspace(0, 1, 56), indexing="ij")
    image = torch.stack([0.2 + 0.6 * x, 0.2 + 0.6 * y, 0.3 + 0.4 * (x * y) ** 0.5])[None]
    image[..., 10:25, 15:35] *= 0.6
    return (image + 0.01 * torch.randn_like(image)).clamp(0, 1)


def test_affine_residual_zero_for_identity_and_global_affine_large_for_noise():
    image = photo_like()
    matrix = torch.tensor([[0.6, 0.3, 0.1], [0.1, 0.7, -0.2], [0.2, -0.1, 0.5]])
    affine = torch.einsum("ij,bjhw->bihw", matrix, image) + torch.tensor([0.1, 0.2, 0.05]).view(1, 3, 1, 1)
    assert affine_residual(image, image) < 2e-3
    assert affine_residual(affine, image) < 2e-3
    assert affine_residual(torch.rand_like(image), image) > 0.4
    painted = image.clone()
    painted[..., ::4, :] += 0.1  # stripes the content does not have
    assert affine_residual(painted, image) > 0.1


def test_colour_distance_compares_distributions_in_lab_units():
    image = photo_like()
    assert colour_distance(image, image) == 0
    shuffled = image.flatten(2)[..., torch.randperm(image.shape[2] * image.shape[3])].view_as(image)
    assert colour_distance(shuffled, image) == pytest.approx(0, abs=1e-9)  # only the colours count, not where they are
    # Lightness raised by 10 everywhere: each slice moves by 10 |d_L|, which averages 1/2 over directions.
    brighter = lab_to_srgb(
        srgb_to_lab(image.double()) + torch.tensor([10.0, 0, 0], dtype=torch.float64).view(1, 3, 1, 1)
    )
    assert colour_distance(brighter, image) == pytest.approx(5.0, rel=0.15)
    assert colour_distance(image * 0.5, image) > colour_distance(brighter, image)
