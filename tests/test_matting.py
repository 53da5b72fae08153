import numpy as np
import pytest
import scipy.sparse
import torch

from photostyle.training.matting import guided_filter, matting_laplacian_energy


def sparse_matting_laplacian(image: np.ndarray, eps: float) -> scipy.sparse.csr_matrix:
    """Levin et al.'s L built entry by entry over every 3x3 window, as in their paper."""
    height, width, _ = image.shape
    index = np.arange(height * width).reshape(height, width)
    rows, cols, values = [], [], []
    for y in range(1, height - 1):
        for x in range(1, width - 1):
            window = index[y - 1 : y + 2, x - 1 : x + 2].ravel()
            pixels = image[y - 1 : y + 2, x - 1 : x + 2].reshape(9, 3)
            centred = pixels - pixels.mean(0)
            inverse = np.linalg.inv(centred.T @ centred / 9 + eps / 9 * np.eye(3))
            block = np.eye(9) - (1 + centred @ inverse @ centred.T) / 9
            rows.append(np.repeat(window, 9))
            cols.append(np.tile(window, 9))
            values.append(block.ravel())
    n = height * width
    return scipy.sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


@pytest.mark.parametrize("eps", [1e-7, 1e-4])
def test_dense_energy_equals_sparse_matrix_reference(eps):
    torch.manual_seed(0)
    content, output = torch.rand(2, 3, 9, 11), torch.rand(2, 3, 9, 11)
    dense = matting_laplacian_energy(content, output, eps)
    for b in range(2):
        laplacian = sparse_matting_laplacian(content[b].permute(1, 2, 0).double().numpy(), eps)
        x = output[b].double().numpy().reshape(3, -1)
        reference = sum(x[c] @ laplacian @ x[c] for c in range(3)) / (9 * 11)
        assert dense[b].item() == pytest.approx(reference, rel=1e-4)


def test_near_zero_for_a_global_affine_colour_map():
    torch.manual_seed(1)
    content = torch.rand(2, 3, 32, 40)
    matrix = torch.tensor([[0.6, 0.3, 0.1], [0.1, 0.7, -0.2], [0.2, -0.1, 0.5]])
    output = torch.einsum("ij,bjhw->bihw", matrix, content) + torch.tensor([0.1, -0.05, 0.2]).view(1, 3, 1, 1)
    noise = matting_laplacian_energy(content, torch.rand_like(content))
    affine = matting_laplacian_energy(content, output)
    assert (noise > 0.5).all()
    assert (affine.abs() < 1e-5 * noise).all()


def test_small_for_smooth_content_large_for_noise_on_a_photo():
    # A smooth photo-like content: a local colour change costs little, noise a lot.
    y, x = torch.meshgrid(torch.linspace(0, 1, 24), torch.linspace(0, 1, 24), indexing="ij")
    content = torch.stack([x, y, (x + y) / 2])[None]
    graded = content.clone()
    graded[:, 0] = graded[:, 0] ** 0.8  # a gamma curve: locally affine, not globally
    noisy = (content + 0.1 * torch.randn_like(content)).clamp(0, 1)
    assert matting_laplacian_energy(content, graded) < 0.01 * matting_laplacian_energy(content, noisy)


def test_gradient_flows_to_output_only_and_is_batched():
    content = torch.rand(3, 3, 12, 10, requires_grad=True)
    output = torch.rand(3, 3, 12, 10, requires_grad=True)
    energy = matting_laplacian_energy(content, output)
    assert energy.shape == (3,)
    energy.sum().backward()
    assert output.grad is not None and output.grad.abs().sum() > 0
    assert content.grad is None
    # Each image's energy depends on its own pixels only.
    single = matting_laplacian_energy(content[1:2].detach(), output[1:2].detach())
    assert single.item() == pytest.approx(energy[1].item(), rel=1e-6)


def test_tiny_images_have_no_windows():
    assert matting_laplacian_energy(torch.rand(1, 3, 2, 5), torch.rand(1, 3, 2, 5)).item() == 0


def test_guided_filter_keeps_affine_maps_of_the_guide_and_removes_what_the_guide_lacks():
    torch.manual_seed(2)
    y, x = torch.meshgrid(torch.linspace(0, 1, 33), torch.linspace(0, 1, 47), indexing="ij")
    guide = torch.stack([x, y, (x + y) / 2])[None]
    guide[..., 8:20, 10:30] = torch.tensor([0.9, 0.2, 0.4]).view(1, 3, 1, 1)  # a sharp-edged box
    matrix = torch.tensor([[0.6, 0.3, 0.1], [0.1, 0.7, -0.2], [0.2, -0.1, 0.5]])
    affine = torch.einsum("ij,bjhw->bihw", matrix, guide) + 0.1
    assert torch.allclose(guided_filter(guide, affine, radius=3, ridge=1e-8), affine, atol=1e-4)
    noisy = affine + 0.1 * torch.randn_like(affine)
    filtered = guided_filter(guide, noisy, radius=3, ridge=1e-4)
    assert (filtered - affine).square().mean() < 0.1 * (noisy - affine).square().mean()
    # The box's edges survive: the step across them is still there after filtering.
    assert (filtered[0, 0, 14, 9] - filtered[0, 0, 14, 10]).abs() > 0.5 * (
        affine[0, 0, 14, 9] - affine[0, 0, 14, 10]
    ).abs()


@pytest.mark.parametrize("size", [(1, 1), (1, 9), (2, 2), (5, 3)])
def test_guided_filter_any_size(size):
    guide, image = torch.rand(1, 3, *size), torch.rand(1, 3, *size)
    filtered = guided_filter(guide, image, radius=4, ridge=1e-3)
    assert filtered.shape == image.shape and torch.isfinite(filtered).all()
