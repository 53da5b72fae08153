import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from photostyle.arguments import build_parser, optimize_settings
from photostyle.errors import PhotostyleError
from photostyle.evaluation.masks import PALETTE, read_labels, shared_masks
from photostyle.evaluation.optimize import FittedLook, look_network, optimize_look, optimize_photo
from photostyle.settings import OptimizeSettings, optimize_loss
from photostyle.training.loss import PhotorealStyleLoss

from conftest import PHOTOSTYLE, run, save_photo, tiny_look_network

# Two shallow layers and a light content anchor: a few steps on a 32x32 image move it visibly.
FAST_LOSS = optimize_loss() | dict(
    style_layers={"relu1_1": 1.0, "relu2_1": 1.0}, content_layers=["relu2_1"], content_weight=0.1
)


def fast_settings(**changes) -> OptimizeSettings:
    return OptimizeSettings(init="content", loss=FAST_LOSS | changes.pop("loss", {}), **changes)


def run_optimize(content, style, settings, *masks):
    return optimize_photo(content, style, PhotorealStyleLoss(**settings.loss), settings, *masks, progress=False)


def style_term(
    output: torch.Tensor, style: torch.Tensor, output_masks: torch.Tensor, style_masks: torch.Tensor
) -> float:
    loss = PhotorealStyleLoss(**FAST_LOSS)
    loss.set_style(style, style_masks)
    return float(loss(output, output, masks=output_masks)["style"])


def halves(left: tuple[float, float, float], right: tuple[float, float, float], size: int = 32) -> torch.Tensor:
    torch.manual_seed(0)
    image = torch.empty(1, 3, size, size)
    image[..., : size // 2] = torch.tensor(left).view(1, 3, 1, 1)
    image[..., size // 2 :] = torch.tensor(right).view(1, 3, 1, 1)
    return (image + 0.05 * torch.randn_like(image)).clamp(0, 1)


def left_right_masks(size: int = 32) -> torch.Tensor:
    masks = torch.zeros(2, size, size)
    masks[0, :, : size // 2], masks[1, :, size // 2 :] = 1, 1
    return masks


def test_masks_match_the_style_region_by_region():
    # The output has the style's two colours in the style's places: with the masks lined up the
    # style loss is small; with the style's labels swapped it is large. Ignoring the masks
    # would make the two equal.
    style = halves((0.9, 0.2, 0.1), (0.1, 0.2, 0.9))
    output = halves((0.85, 0.25, 0.1), (0.1, 0.25, 0.85))
    masks = left_right_masks()
    aligned = style_term(output, style, masks, masks)
    assert aligned < 0.2 * style_term(output, style, masks, masks.flip(0))
    assert aligned < 0.2 * style_term(output, style, masks.flip(0), masks)


@pytest.mark.slow
def test_optimize_lowers_its_loss_and_moves_each_region_to_its_style():
    content = halves((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    style = halves((0.9, 0.3, 0.1), (0.1, 0.3, 0.9))
    masks = left_right_masks()
    settings = fast_settings(steps=15, lr=0.03, loss={"photoreal_weight": 0.0})
    result, losses = run_optimize(content, style, settings, masks, masks)
    assert len(losses) == 16 and losses[-1] < 0.85 * losses[0]  # before each of 15 steps, then the result's
    left, right = result[0, :, :, :16].mean(dim=(1, 2)), result[0, :, :, 16:].mean(dim=(1, 2))
    assert left[0] - left[2] > 0.05 and right[2] - right[0] > 0.05  # red on the left, blue on the right
    again, _ = run_optimize(content, style, settings, masks, masks)
    assert torch.equal(result, again)  # same settings, same result


@pytest.mark.parametrize("grid", [0, 3])
def test_lbfgs_lowers_the_loss_in_the_evaluations_its_steps_allow(grid):
    # --steps counts passes of the loss forward and back for L-BFGS too, its line searches included
    # (the last one may take one more), so a fit's time is known before it runs; the pixels (grid 0)
    # or a 3x3 grid's look.
    content, style = halves((0.4, 0.5, 0.6), (0.6, 0.5, 0.4)), halves((0.9, 0.3, 0.1), (0.8, 0.2, 0.2))
    settings = fast_settings(steps=7, optimizer="lbfgs", grid=grid, loss={"photoreal_weight": 0.0})
    evaluations = []
    loss = PhotorealStyleLoss(**settings.loss)
    loss.register_forward_hook(lambda module, args, terms: evaluations.append(float(terms["loss"])))
    _, losses = optimize_photo(content, style, loss, settings, progress=False)
    assert len(evaluations) in (8, 9) and losses == pytest.approx(evaluations)  # 7 or 8, then the result's
    assert losses[-1] < 0.9 * losses[0]


def test_soft_mask_edges_snap_to_the_palette(tmp_path):
    label = np.zeros((8, 10, 3), np.uint8)
    label[:, 5:] = PALETTE["green"]
    label[:, 5] = (20, 230, 15)  # an anti-aliased edge pixel
    Image.fromarray(label).save(tmp_path / "mask.png")
    labels = read_labels(tmp_path / "mask.png", (4, 5))
    names = list(PALETTE)
    assert labels.shape == (4, 5)
    assert {names[i] for i in labels.unique().tolist()} == {"black", "green"}
    content_masks, style_masks = shared_masks(labels, labels)
    assert content_masks.shape == (2, 4, 5) and torch.equal(content_masks.sum(0), torch.ones(4, 5))
    with pytest.raises(PhotostyleError, match="share no label"):
        shared_masks(labels, torch.full((4, 5), names.index("red")))


def test_a_fitted_grid_moves_the_colours_and_is_a_local_affine_map_at_any_size():
    content = halves((0.45, 0.5, 0.55), (0.55, 0.5, 0.45))
    style = halves((0.9, 0.3, 0.1), (0.8, 0.2, 0.2))
    loss = FAST_LOSS | {"photoreal_weight": 0.0}  # on a 32x32 photo of noise, the term holds the grid still
    settings = OptimizeSettings(grid=3, steps=8, lr=0.02, init="content", loss=loss)
    look, losses = optimize_look(content, style, PhotorealStyleLoss(**loss), settings, progress=False)
    assert losses[-1] < 0.7 * losses[0]
    result = look(content).detach().clamp(0, 1)
    assert result[0, 0].mean() - result[0, 2].mean() > content[0, 0].mean() - content[0, 2].mean() + 0.05  # redder
    # Each output pixel is the grid's map, interpolated at the pixel, applied to the pixel's own
    # colour: a constant photo stays constant where the grid does, and the maps are affine.
    grid = look.look()[0, :, :, 0]  # (3, 3, 4, 3)
    colour = content[0, :, 0, 0]  # the top-left pixel's colour
    top_left = torch.cat([colour, torch.ones(1)]) @ grid[0, 0]
    assert torch.allclose(look(content)[0, :, 0, 0], top_left, atol=0.02)
    # The look of the photo applies to a bigger copy of it, band by band, in bytes, as the float path says.
    bigger = torch.nn.functional.interpolate(content, scale_factor=3, mode="nearest")
    photo = (bigger[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    in_bands = look.stylize_bytes(photo, band_rows=7)
    as_floats = look(torch.from_numpy(photo).permute(2, 0, 1)[None] / 255).detach().clamp(0, 1)
    expected = (as_floats[0].permute(1, 2, 0).numpy() * 255).round()
    assert in_bands.shape == photo.shape and in_bands.dtype == np.uint8
    assert np.abs(in_bands - expected).max() <= 1


def test_the_last_loss_is_the_results_so_one_step_shows_what_it_did():
    content, style = halves((0.45, 0.5, 0.55), (0.55, 0.5, 0.45)), halves((0.9, 0.3, 0.1), (0.8, 0.2, 0.2))
    settings = OptimizeSettings(grid=3, steps=1, lr=0.02, loss=FAST_LOSS | {"photoreal_weight": 0.0})
    loss = PhotorealStyleLoss(**settings.loss)
    look, losses = optimize_look(content, style, loss, settings, progress=False)
    assert len(losses) == 2 and losses[1] < losses[0]  # before the step, then the result's
    with torch.no_grad():
        assert losses[1] == pytest.approx(float(loss(look(content), content)["loss"]), rel=1e-5)


def test_a_fit_can_start_from_a_trained_models_look():
    net = tiny_look_network()  # 2x2 knots, one bin, a style's global map and a moved grid
    content, style = halves((0.45, 0.5, 0.55), (0.55, 0.5, 0.45)), halves((0.9, 0.3, 0.1), (0.8, 0.2, 0.2))
    with torch.no_grad():
        start, trained = net.look(content.permute(0, 2, 3, 1)), net(content)
    settings = OptimizeSettings(grid=2, steps=6, lr=0.02, loss=FAST_LOSS | {"photoreal_weight": 0.0})
    loss = PhotorealStyleLoss(**settings.loss)
    # Unfitted, the look started from gives the model's own output, whatever the fit's network holds.
    unfitted = FittedLook(look_network(settings, loss), content, start)
    assert torch.allclose(unfitted(content), trained, atol=1e-6)
    look, losses = optimize_look(content, style, loss, settings, progress=False, start=start)
    assert losses[0] == pytest.approx(float(loss(trained, content)["loss"]), rel=1e-4)  # the first step's loss
    assert losses[-1] < losses[0]
    with pytest.raises(PhotostyleError, match="give --grid 2"):
        optimize_look(content, style, loss, dataclasses.replace(settings, grid=3), progress=False, start=start)
    with pytest.raises(PhotostyleError, match="2 tone bins"):
        optimize_look(content, style, loss, settings, progress=False, start=start.expand(-1, -1, -1, 2, -1, -1))


def test_a_grid_of_one_knot_is_refused():
    with pytest.raises(PhotostyleError, match="at least 2"):
        OptimizeSettings(grid=1).check()


@pytest.mark.slow
def test_cli_grid_writes_the_photo_at_its_own_size(tmp_path, style_photo):
    content = save_photo(tmp_path / "content.png", 40, 56)
    out = tmp_path / "out.png"
    args = ["--grid", "3", "--steps", "2", "--max-side", "24"]
    result = run(PHOTOSTYLE, "optimize", str(content), str(style_photo), "-o", str(out), *args)
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (56, 40)  # fitted at 24 px, written at the photo's size
    assert np.abs(np.asarray(Image.open(out), float) - np.asarray(Image.open(content), float)).mean() > 1


@pytest.mark.slow
def test_cli_grid_starts_from_a_model(tmp_path, style_photo, tiny_look_model):
    content = save_photo(tmp_path / "content.png", 40, 56)
    out = tmp_path / "out.png"
    args = ["--model", str(tiny_look_model), "--grid", "2", "--steps", "2", "--max-side", "24"]
    result = run(PHOTOSTYLE, "optimize", str(content), str(style_photo), "-o", str(out), *args)
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (56, 40)
    assert np.abs(np.asarray(Image.open(out), float) - np.asarray(Image.open(content), float)).mean() > 1


@pytest.mark.slow
def test_cli_writes_the_result_and_refuses_to_overwrite(tmp_path, style_photo):
    content = save_photo(tmp_path / "content.png", 24, 28)
    out = tmp_path / "out.png"
    args = [PHOTOSTYLE, "optimize", str(content), str(style_photo), "-o", str(out), "--steps", "3", "--post"]
    result = run(*args)
    assert result.returncode == 0, result.stderr
    assert Image.open(out).size == (28, 24) and "optimize: 100%" in result.stderr
    again = run(*args)
    assert again.returncode == 1 and "already exists" in again.stderr and "Traceback" not in again.stderr
    half = run(*args[:-1], "--overwrite", "--content-mask", str(content))
    assert half.returncode == 1 and "--style-mask" in half.stderr


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1"])
def test_optimize_refuses_a_step_size_that_is_not_a_positive_number(value, capsys):
    """Once `--lr inf` ran, and its loss rose from 1.75 to 2.1e4."""
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["optimize", "a.jpg", "b.jpg", "-o", "c.jpg", "--lr", value])
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert stopped.value.code == 2 and "--lr" in error and "not a positive, finite number" in error, error


@pytest.mark.parametrize(
    "options, optimizer, steps, grid",
    [
        ([], "adam", 200, 0),  # the pixels: Adam
        (["--grid"], "lbfgs", 30, 9),  # the grid: L-BFGS's budget
        (["--grid", "--optimizer", "adam"], "adam", 60, 9),  # Adam's own budget on the grid
        (["--model", "m.onnx"], "lbfgs", 30, 9),  # a model to start from implies the grid
        (["--grid", "5", "--steps", "3"], "lbfgs", 3, 5),  # what is given wins
        (["--optimizer", "lbfgs"], "lbfgs", 200, 0),
    ],
)
def test_optimize_defaults_follow_the_grid_and_the_optimizer(options, optimizer, steps, grid):
    args = build_parser().parse_args(["optimize", "a.jpg", "b.jpg", "-o", "c.jpg", *options])
    settings = optimize_settings(args)
    settings.check()
    assert (settings.optimizer, settings.steps, settings.grid) == (optimizer, steps, grid)
