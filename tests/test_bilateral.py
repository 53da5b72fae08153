import pytest
import torch
from torch.nn import functional as F

from photostyle.colour import apply_affine, colour_statistics, covariance_transfer, square_roots
from photostyle.errors import PhotostyleError
from photostyle.networks.bilateral import BilateralNet
from photostyle.networks.slicing import row_positions, slice_and_apply, strip_width, tent_weights
from photostyle.training.onnx_export import export_onnx, max_abs_difference

from conftest import perturbed_bilateral, tiny_look_network


def grid_sample_reference(grid: torch.Tensor, guide: torch.Tensor | None, pixels: torch.Tensor) -> torch.Tensor:
    """The textbook slice: one trilinear 5-D grid_sample per pixel (corner-aligned knots), then
    the affine map. Along x the knots span the padded width, as slice_and_apply documents."""
    batch, height, width, _ = pixels.shape
    knots_x = grid.shape[2]
    padded = (knots_x - 1) * strip_width(width, knots_x)
    ys = (torch.arange(height, dtype=pixels.dtype) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, dtype=pixels.dtype) + 0.5) / padded * 2 - 1
    y, x = torch.meshgrid(ys, xs, indexing="ij")
    z = guide[..., 0] * 2 - 1 if guide is not None else torch.zeros(batch, height, width, dtype=pixels.dtype)
    points = torch.stack([x.expand(batch, height, width), y.expand(batch, height, width), z], dim=-1)[
        :, None
    ]  # (B, 1, H, W, xyz)
    volume = grid.permute(0, 4, 5, 3, 1, 2).flatten(1, 2)  # (B, 12, D, Gh, Gw)
    coefficients = F.grid_sample(volume, points, mode="bilinear", padding_mode="border", align_corners=True)
    matrix = coefficients[:, :, 0].permute(0, 2, 3, 1).unflatten(-1, (4, 3))  # (B, H, W, 4, 3)
    return (pixels[..., None] * matrix[..., :3, :]).sum(-2) + matrix[..., 3, :]


@pytest.mark.parametrize("banded", [False, True])
@pytest.mark.parametrize("depth,size", [(1, (37, 53)), (1, (16, 12)), (2, (16, 16)), (3, (1, 7)), (4, (45, 30))])
def test_slice_and_apply_equals_trilinear_grid_sample(depth, size, banded):
    """In one piece, and band by band with each band's rows placed in the whole photo."""
    generator = torch.Generator().manual_seed(depth)
    grid = torch.randn(2, 5, 7, depth, 4, 3, generator=generator, dtype=torch.float64)
    pixels = torch.rand(2, *size, 3, generator=generator, dtype=torch.float64)
    guide = torch.rand(2, *size, 1, generator=generator, dtype=torch.float64) if depth > 1 else None
    expected = grid_sample_reference(grid, guide, pixels)
    if not banded:
        actual = slice_and_apply(grid, guide, pixels)
    else:
        bands = [torch.arange(start, min(start + 4, size[0])) for start in range(0, size[0], 4)]
        actual = torch.cat(
            [
                slice_and_apply(
                    grid,
                    None if guide is None else guide[:, rows],
                    pixels[:, rows],
                    row_positions(rows, size[0], grid.shape[1], torch.float64),
                )
                for rows in bands
            ],
            dim=1,
        )
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)


def test_tent_weights_are_a_partition_of_unity_clamped_at_the_ends():
    weights = tent_weights(torch.linspace(-0.5, 7.5, 101), 8)  # (101, 8)
    torch.testing.assert_close(weights.sum(1), torch.ones(101))
    assert (weights > 0).sum(1).max() <= 2  # at most two neighbouring knots
    assert weights[0].argmax() == 0 and weights[-1].argmax() == 7


def test_strips_cover_the_width_with_less_than_one_pixel_of_padding_per_strip():
    for width in [1, 7, 8, 9, 97, 512, 1920]:
        strip = strip_width(width, 9)
        assert 8 * strip >= width > 8 * (strip - 1)


def test_a_constant_grid_is_one_global_affine_colour_map():
    matrix = torch.tensor([[0.9, 0.0, 0.2], [0.1, 1.1, 0.0], [0.0, -0.1, 0.7], [0.05, 0.0, -0.02]])  # [r, g, b, 1] @ M
    grid = matrix.expand(1, 4, 4, 2, 4, 3)
    pixels = torch.rand(1, 19, 23, 3)
    expected = pixels @ matrix[:3] + matrix[3]
    torch.testing.assert_close(slice_and_apply(grid, torch.rand(1, 19, 23, 1), pixels), expected)


@pytest.mark.parametrize("size", [(1, 1), (2, 9), (33, 17), (300, 200)])
def test_untrained_network_is_the_identity_at_any_size(size):
    image = torch.rand(1, 3, *size)
    with torch.no_grad():
        out = BilateralNet(thumbnail_size=64, channels=4, grid_depth=2)(image)
    assert out.shape == image.shape
    torch.testing.assert_close(out, image, atol=1e-6, rtol=0)


def test_output_is_an_affine_map_of_each_pixels_own_colour():
    """Changing one pixel that the thumbnail does not sample changes that pixel's output only,
    through its own colour: no neighbour moves, so no edge can move."""
    net = perturbed_bilateral(2, thumbnail_size=64, grid_depth=2)
    image = torch.rand(1, 3, 128, 128)
    changed = image.clone()
    changed[:, :, 30, 40] = torch.tensor([0.9, 0.1, 0.5])
    with torch.no_grad():
        assert torch.equal(net.thumbnail(changed.permute(0, 2, 3, 1)), net.thumbnail(image.permute(0, 2, 3, 1)))
        difference = (net(changed) - net(image)).abs().amax(1)[0]
    assert difference[30, 40] > 0.05
    difference[30, 40] = 0
    assert difference.max() < 1e-6


def graph_operators(path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


def test_bytes_in_give_the_float_result_rounded():
    """apply() on uint8 pixels works on 0..255 values directly (no conversion pass): the same
    result as on floats, rounded and clamped, except where float rounding lands near a half."""
    net = perturbed_bilateral(2, thumbnail_size=64, grid_depth=2, style_colours=0.8)
    pixels = torch.randint(0, 256, (1, 45, 61, 3), dtype=torch.uint8)
    with torch.no_grad():
        look = net.look(pixels)
        torch.testing.assert_close(look, net.look(pixels.float() / 255))
        as_bytes = net.apply(look, pixels)
        as_floats = net.apply(look, pixels.float() / 255)
    assert as_bytes.dtype == torch.uint8
    rounded = (as_floats.clamp(0, 1) * 255).round()
    assert (as_bytes.float() - rounded).abs().max() <= 1
    assert (as_bytes.float() != rounded).float().mean() < 1e-3
    assert (rounded - pixels.float()).abs().max() > 10  # the look does change the photo


@pytest.mark.slow
@pytest.mark.parametrize(
    "grid_depth,samples,style_colours,pixels",
    [
        (1, 1, 0.0, "float32"),
        (2, 2, 0.0, "float32"),
        (3, 1, 0.0, "uint8"),
        (1, 1, 0.8, "uint8"),
        (1, 1, 0.8, "float32"),
    ],
)
def test_onnx_export_matches_pytorch_at_four_sizes(tmp_path, grid_depth, samples, style_colours, pixels):
    net = perturbed_bilateral(
        grid_depth, thumbnail_size=64, grid_depth=grid_depth, thumbnail_samples=samples, style_colours=style_colours
    )
    path = tmp_path / "bilateral.onnx"
    export_onnx(net, path, {"network": "bilateral"}, pixels=pixels)
    assert "If" not in graph_operators(path)
    # A flat photo (1x1) gets a large gain from the colour map, which magnifies float32 rounding;
    # bytes may round the other way where float32 rounding lands next to a half.
    allowed = (1e-3 if style_colours else 1e-4) + (1 / 255 if pixels == "uint8" else 0)
    assert max_abs_difference(net, path, [(64, 64), (97, 131), (301, 203), (1, 1)]) <= allowed
    with torch.no_grad():  # and the check is not vacuous: the network does change photos
        image = torch.rand(1, 3, 40, 40)
        assert (net(image) - image).abs().max() > 0.05


@pytest.mark.slow
def test_exported_look_model_does_bands_and_carries_a_look(tiny_look_model):
    """The deployed interface (interface.py): any rows of the photo give those rows of the whole
    result; the look output is PyTorch's; keep blends a given look with the photo's own."""
    import numpy as np
    import onnxruntime as ort

    net = tiny_look_network()  # the network tiny_look_model was exported from
    session = ort.InferenceSession(str(tiny_look_model), providers=["CPUExecutionProvider"])
    image = np.random.default_rng(0).integers(0, 256, (1, 70, 90, 3), dtype=np.uint8)
    zeros = np.zeros((1, *net.look(torch.zeros(1, 8, 8, 3)).shape[1:]), np.float32)

    def run(rows, look=zeros, keep=0.0):
        feed = {"image": image, "rows": np.asarray(rows, np.int64), "previous_look": look}
        return session.run(None, feed | {"keep": np.array(keep, np.float32)})

    whole, own = run(range(70))
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(own), net.look(torch.from_numpy(image)), atol=1e-5, rtol=0)
    bands = np.concatenate([run(range(start, min(start + 16, 70)))[0] for start in range(0, 70, 16)], axis=1)
    np.testing.assert_array_equal(bands, whole)
    np.testing.assert_array_equal(run([3, 50])[0], whole[:, [3, 50]])

    other = run(range(70), look=own * 0.5, keep=1.0)
    np.testing.assert_allclose(other[1], own * 0.5, atol=1e-6)
    assert np.abs(other[0].astype(int) - whole).max() > 20  # the given look, not the photo's own
    halfway = run(range(70), look=own * 0.5, keep=0.5)[1]
    np.testing.assert_allclose(halfway, own * 0.75, atol=1e-6)


def test_style_colours_give_each_photo_the_style_mean_and_covariance():
    """Untrained, with style_colours=1, the network is a global map to the style photo's
    colour statistics, worked out anew for every photo (here the thumbnail is the whole photo)."""
    generator = torch.Generator().manual_seed(0)
    style = torch.rand(1, 3, 50, 70, generator=generator) ** 2 * torch.tensor([1.0, 0.7, 0.4]).view(1, 3, 1, 1)
    net = BilateralNet(thumbnail_size=32, channels=4, style_colours=1.0)
    net.set_style(style)
    for scale in (0.5, 1.0):
        content = torch.rand(1, 3, 32, 32, generator=generator) * scale
        with torch.no_grad():
            out = net(content)
        (mean, covariance), (style_mean, style_covariance) = (
            colour_statistics(image.flatten(2)) for image in (out, style)
        )
        torch.testing.assert_close(mean, style_mean, atol=1e-5, rtol=0)
        torch.testing.assert_close(covariance, style_covariance, atol=5e-4, rtol=0)  # the ridge's small pull


def test_colour_square_roots_and_the_transfer_map_are_exact():
    generator = torch.Generator().manual_seed(1)
    rotation, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    matrix = (rotation @ torch.diag(torch.tensor([0.05, 5e-3, 5e-5], dtype=torch.float64)) @ rotation.T)[None]
    root, inverse_root = square_roots(matrix)
    torch.testing.assert_close(root @ root, matrix, atol=1e-9, rtol=1e-6)
    torch.testing.assert_close(root @ inverse_root, torch.eye(3, dtype=torch.float64)[None], atol=1e-6, rtol=0)
    content = (
        torch.rand(1, 3, 500, generator=generator, dtype=torch.float64)
        * torch.tensor([0.5, 0.2, 0.9], dtype=torch.float64)[:, None]
    )
    style = torch.rand(1, 3, 300, generator=generator, dtype=torch.float64) ** 3
    (content_mean, content_covariance), (style_mean, style_covariance) = (
        colour_statistics(content),
        colour_statistics(style),
    )
    transfer = covariance_transfer(content_mean, content_covariance, style_mean, style_covariance, ridge=0.0)
    moved_mean, moved_covariance = colour_statistics(apply_affine(content, transfer))
    torch.testing.assert_close(moved_mean, style_mean)
    torch.testing.assert_close(moved_covariance, style_covariance)
    half = covariance_transfer(content_mean, content_covariance, style_mean, style_covariance, strength=0.5, ridge=0.0)
    torch.testing.assert_close(
        half,
        (transfer + torch.eye(4, 3, dtype=torch.float64)) / 2
        + torch.cat(
            [
                torch.zeros(3, 3, dtype=torch.float64),
                (content_mean - content_mean @ torch.eye(3, dtype=torch.float64)) / 2,
            ]
        ),
    )


def eigh_transfer(content: torch.Tensor, style: torch.Tensor, ridge: float) -> torch.Tensor:
    """The Monge-Kantorovich map in float64 by eigendecomposition, the textbook way."""

    def root(matrix):
        values, vectors = torch.linalg.eigh(matrix)
        return vectors @ torch.diag_embed(values.sqrt()) @ vectors.transpose(-1, -2)

    (content_mean, content_covariance), (style_mean, style_covariance) = (
        colour_statistics(x.double()) for x in (content, style)
    )
    eye = torch.eye(3, dtype=torch.float64)
    c = root(content_covariance + ridge * eye)
    linear = torch.linalg.inv(c) @ root(c @ (style_covariance + ridge * eye) @ c) @ torch.linalg.inv(c)
    return torch.cat(
        [linear, (style_mean - content_mean[:, None] @ linear)], dim=1
    )  # (B, 4, 3), as covariance_transfer


def test_the_transfer_map_is_exact_in_float32_for_black_and_white_photos():
    """Black-and-white content and style (say, scanned line art): both covariances have rank
    one, the matrix whose root the map takes has a condition number of ~1e8, and roots in
    float32 broke down there (colours off by 0.12); the map must match the float64 textbook one."""
    generator = torch.Generator().manual_seed(2)
    content = (torch.rand(1, 1, 4000, generator=generator) > 0.45).float().expand(1, 3, 4000)
    style = (torch.rand(1, 1, 3000, generator=generator) > 0.55).float().expand(1, 3, 3000)
    maps = covariance_transfer(*colour_statistics(content), *colour_statistics(style))
    assert maps.dtype == torch.float32
    moved, reference = (
        apply_affine(content, maps),
        apply_affine(content.double(), eigh_transfer(content, style, ridge=1e-4)),
    )
    assert (moved.double() - reference).abs().max() < 1e-5


def test_thumbnail_size_must_fit_the_grid():
    with pytest.raises(PhotostyleError, match="multiple of 16"):
        BilateralNet(thumbnail_size=100)


def test_a_checkpoint_naming_the_retired_band_setting_still_builds_its_network():
    """Bands moved from the network to the runtime; an older run's saved config still says
    model.banded_from_pixels, and export.py must still rebuild its network from it."""
    from hydra.utils import instantiate

    from photostyle.training.checkpoints import network_config

    saved = {"_target_": "photostyle.networks.bilateral.BilateralNet", "thumbnail_size": 32, "channels": 4}
    checkpoint = {"hyper_parameters": {"model": saved | {"banded_from_pixels": 3_000_000}}}
    assert network_config(checkpoint) == saved
    assert isinstance(instantiate(network_config(checkpoint)), BilateralNet)
