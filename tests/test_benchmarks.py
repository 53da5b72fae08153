"""The benchmark scripts that README quotes keep working (on tiny sizes; their figures come from full runs)."""

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks.bilateral_vs_residual import as_close, match_cells
from benchmarks.closed_forms import curve_map, detail_map, global_map, tone_map
from benchmarks.look_ceiling import PREDICT_NEAREST, predicted_grids
from photostyle.structure import LUMA

from conftest import PROJECT_ROOT, PYTHON, run

BENCH = PROJECT_ROOT.parent / "shared" / "bench"
needs_bench = pytest.mark.skipif(not (BENCH / "pairs.csv").is_file(), reason="../shared/bench is absent")


@pytest.mark.slow
def test_latency_benchmark_times_networks_side_by_side():
    """Both networks, and one with a setting changed (here: two bins), each in its own row."""
    result = run(
        PYTHON,
        "-m",
        "benchmarks.latency",
        "--networks",
        "residual",
        "bilateral",
        "bilateral:grid_depth=2",
        "--sizes",
        "40x24",
        "--runs",
        "2",
        "--warmup",
        "1",
    )
    assert result.returncode == 0, result.stderr
    rows = {
        cells[0]: cells
        for line in result.stdout.splitlines()
        if (cells := [cell.strip() for cell in line.split("|")[1:-1]]) and cells[1:2] == ["40x24"]
    }
    names = ["residual", "bilateral", "bilateral.grid_depth=2"]
    expected = ["float32 pass (floor)", "uint8 copy (floor)"] + [
        n + s for n in names for s in ("", " (photo to photo)")
    ]
    assert list(rows) == expected
    assert rows["float32 pass (floor)"][-1] == "1.0"  # passes are counted in floors
    for name in expected[2:]:
        assert float(rows[name][-1]) > 0
        if not name.startswith("residual"):  # residual / this one, like with like, measured in the same run
            assert re.fullmatch(r"\d+\.\dx", rows[name][-2]), rows[name]


@pytest.mark.slow
@needs_bench
def test_bench_methods_runs_every_method_on_a_masked_pair(tmp_path):
    result = run(
        PYTHON,
        "-m",
        "benchmarks.bench_methods",
        "--pairs",
        "dpst/2",
        "--steps",
        "2",
        "--grid",
        "adam",
        "lbfgs",
        "--max-side",
        "64",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    methods = [line.split("|")[2].strip() for line in result.stdout.splitlines() if line.startswith("| dpst/2 |")]
    assert methods == [
        "identity",
        "identity+post",
        "reinhard",
        "reinhard+post",
        "histogram",
        "histogram+post",
        "optimize",
        "optimize+post",
        "optimize-grid-adam",
        "optimize-grid-adam+post",
        "optimize-grid-lbfgs",
        "optimize-grid-lbfgs+post",
        "reference",
        "reference+post",
    ]
    # the fits' times side by side, against the first's: the pixels' 2 steps, the grid's 60 and 30
    ratios = re.search(
        r"against optimize's .*: optimize-grid-adam (\d+\.\d+)x, optimize-grid-lbfgs (\d+\.\d+)x", result.stdout
    )
    assert ratios and float(ratios[1]) > float(ratios[2]) > 1, result.stdout
    assert (tmp_path / "sheet.png").is_file() and (tmp_path / "metrics.csv").is_file()


# One shallow VGG layer for style and one for content (a dict override merges into the default's
# style layers, so the others are deleted).
SHALLOW_LOSS = [
    "loss.content_layers=[relu2_1]",
    "~loss.style_layers.relu2_1",
    "~loss.style_layers.relu3_1",
    "~loss.style_layers.relu4_1",
]
TINY_TRAINING = [
    "model=bilateral",
    "model.thumbnail_size=32",
    "model.channels=4",
    "trainer.max_steps=2",
    "data.crop_size=32",
    "data.batch_size=2",
    "data.num_workers=0",
    "style.size=64",
    *SHALLOW_LOSS,
]


@pytest.mark.parametrize(
    ("script", "named_set"), [("benchmarks.quality", "--confirm"), ("benchmarks.closed_forms", "--held-out")]
)
def test_a_named_set_of_pairs_and_a_pair_list_are_refused_together(script, named_set, tmp_path):
    """Either would silently win over the other, so asking for both is an error before any work."""
    result = run(PYTHON, "-m", script, named_set, "--pairs", "stylenas/1", "--out", str(tmp_path))
    assert result.returncode == 2
    assert f"argument --pairs: not allowed with argument {named_set}" in result.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
@needs_bench
def test_quality_protocol_trains_a_model_per_seed_and_measures_it_against_the_targets(tmp_path):
    """Two seeds on the bench training set: every bench content photo but the pair's own."""
    result = run(
        PYTHON,
        "-m",
        "benchmarks.quality",
        "--pairs",
        "stylenas/1",
        "--training-set",
        "bench",
        "--seeds",
        "0",
        "1",
        "--out",
        str(tmp_path),
        "--",
        *TINY_TRAINING,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    methods = [line.split("|")[2].strip() for line in result.stdout.splitlines() if line.startswith("| stylenas/1 |")]
    assert methods == [
        "photostyle seed 0",
        "photostyle seed 1",
        "untrained",
        "identity",
        "reinhard",
        "histogram",
        "reference",
    ]
    listed = (tmp_path / "stylenas_1" / "training_photos.txt").read_text().splitlines()
    assert len(listed) == 54 and not any(line.endswith("stylenas/content/1.jpg") for line in listed)
    trained = [path for path in (tmp_path / "stylenas_1").glob("seed*/model.onnx")]
    assert len(trained) == 2
    targets = [line for line in result.stdout.splitlines() if re.match(r"\| [01] \| ", line)]
    assert len(targets) == 10 and all(re.search(r"\| (yes|no) \|", line) for line in targets)
    assert re.search(r"\| style distance \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|", result.stdout)  # the spread
    assert {"sheet.png", "sheet.jpg", "metrics.csv", "metrics.md"} <= {p.name for p in tmp_path.iterdir()}


def look_ceiling_on_stylenas_12(*arguments: str):
    return run(PYTHON, "-m", "benchmarks.look_ceiling", "--pairs", "stylenas/12", *arguments)


def look_ceiling_outputs(result, out: Path) -> dict[str, np.ndarray]:
    """A successful look_ceiling run's stylenas/12 output image for each method, in the table's order."""
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split("|") for line in result.stdout.splitlines() if line.startswith("| stylenas/12 |")]
    return {
        method: np.asarray(Image.open(next((out / "stylenas_12" / method).glob("*.png"))), float)
        for method in (row[2].strip() for row in rows)
    }


@pytest.mark.slow
@needs_bench
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_look_ceiling_fits_a_look_to_the_photo_itself(tmp_path, optimizer):
    result = look_ceiling_on_stylenas_12(
        "--size",
        "64",
        "--steps",
        "15",
        "--lr",
        "0.02",
        "--optimizer",
        optimizer,
        "--out",
        str(tmp_path),
        "--",
        *SHALLOW_LOSS,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    fit = re.search(r"stylenas/12: training loss on the photo (\S+) -> (\S+)", result.stdout)
    start, end = map(float, fit.groups())
    assert end < 0.9 * start
    methods = [line.split("|")[2].strip() for line in result.stdout.splitlines() if line.startswith("| stylenas/12 |")]
    assert methods == ["fitted", "untrained"]
    assert "fitted / untrained style distance" in result.stdout and (tmp_path / "metrics.md").is_file()
    assert f"fit at 64 px, 15 {optimizer} steps" in result.stdout


def test_a_photos_grid_is_predicted_from_its_neighbours_and_a_ridge_regression():
    generator = torch.Generator().manual_seed(0)
    # Two kinds of photo: five near one point, three near another.
    centres = torch.randn(2, 36, generator=generator, dtype=torch.float64)
    features = centres[[0] * 5 + [1] * 3] + 0.01 * torch.randn(8, 36, generator=generator, dtype=torch.float64)
    grids = torch.randn(8, 1, 3, 3, 1, 4, 3, generator=generator)
    predicted = predicted_grids(features, grids, centres[0])
    assert PREDICT_NEAREST == 5 and torch.allclose(predicted["5 nearest fits"], grids[:5].mean(0))
    # At the features' mean the regression gives the grids' mean; elsewhere it moves along the features.
    at_mean = predicted_grids(features, grids, features.mean(0))["ridge on colours"]
    assert torch.allclose(at_mean, grids.mean(0), atol=1e-6)
    assert (predicted["ridge on colours"] - grids.mean(0)).abs().max() > 1e-3


@pytest.mark.slow
@needs_bench
def test_look_ceiling_predicts_a_grid_from_other_photos_fits_leaving_out_copies_of_the_photo(tmp_path):
    photos = tmp_path / "photos"
    (photos / "more").mkdir(parents=True)
    for name in ("chelsea.jpg", "coffee.jpg"):
        (photos / name).write_bytes((PROJECT_ROOT / "data" / "content" / name).read_bytes())
    (photos / "more" / "coffee.jpg").write_bytes((PROJECT_ROOT / "data" / "content" / "astronaut.jpg").read_bytes())
    (photos / "own.jpg").write_bytes((BENCH / "stylenas" / "content" / "12.jpg").read_bytes())
    result = look_ceiling_on_stylenas_12(
        "--size", "32", "--steps", "2", "--carry-from", str(photos), "--predict", "--out", str(tmp_path / "out")
    )
    outputs = look_ceiling_outputs(result, tmp_path / "out")
    # The pair's own photo is not another photo; two photos of one name in two folders are two.
    assert list(outputs) == ["fitted", "untrained", "mean of 3 fits", "5 nearest fits", "ridge on colours"]
    # Three photos are all five nearest: their mean (but for a level's rounding); the regression moves off it.
    assert np.abs(outputs["5 nearest fits"] - outputs["mean of 3 fits"]).max() <= 1
    assert np.abs(outputs["ridge on colours"] - outputs["mean of 3 fits"]).mean() > 0.1


@pytest.mark.slow
@needs_bench
def test_look_ceiling_carries_looks_fitted_to_other_photos(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("chelsea.jpg", "coffee.jpg"):
        (photos / name).write_bytes((PROJECT_ROOT / "data" / "content" / name).read_bytes())
    result = look_ceiling_on_stylenas_12(
        "--size",
        "32",
        "--steps",
        "2",
        "--carry-from",
        str(photos),
        "--out",
        str(tmp_path / "out"),
    )
    outputs = look_ceiling_outputs(result, tmp_path / "out")
    assert list(outputs) == ["fitted", "untrained", "mean of 2 fits", "fit of chelsea", "fit of coffee"]
    # Each carried grid is another photo's fit, so a look of its own; the mean lies between the two.
    assert np.abs(outputs["fit of chelsea"] - outputs["fitted"]).mean() > 0.5
    between = (outputs["fit of chelsea"] + outputs["fit of coffee"]) / 2
    assert np.abs(outputs["mean of 2 fits"] - between).mean() < np.abs(outputs["fit of chelsea"] - between).mean()


def test_tone_bins_give_shadows_and_highlights_the_styles_own_colours():
    """A style with teal shadows and orange highlights: one global map gives each tone of the
    content a mix; with more bins its darkest, middle and brightest thirds come nearer the style's."""
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 32, 32, generator=generator)
    grey = torch.rand(1, 1, 32, 32, generator=generator)
    teal, orange = torch.tensor([0.0, 0.35, 0.4]), torch.tensor([1.0, 0.6, 0.2])
    style = (grey < 0.5) * teal.view(1, 3, 1, 1) * (0.5 + grey) + (grey >= 0.5) * orange.view(1, 3, 1, 1) * grey

    def tone_means(image: torch.Tensor, of: torch.Tensor) -> torch.Tensor:
        """(3, 3): the mean colour of `of`'s darkest, middle and brightest third, at those places in `image`."""
        order = (torch.tensor(LUMA) @ of.flatten(2)[0]).argsort()
        return torch.stack([image.flatten(2)[0][:, third].mean(1) for third in order.chunk(3)])

    wanted = tone_means(style, style)
    error = {
        name: float((tone_means(make(content, style), content) - wanted).norm())
        for name, make in (("global", global_map(1.0)), ("2 bins", tone_map(2, 1.0)), ("3 bins", tone_map(3, 1.0)))
    }
    assert error["3 bins"] < 0.8 * error["global"] and error["2 bins"] < error["global"], error


def test_curves_give_each_principal_axis_the_style_photos_whole_distribution():
    """A style whose colours are skewed (most dark, a few bright): the global map gives the photo
    their mean and covariance only; the curves also give each principal axis its quantiles."""
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 48, 48, generator=generator)
    skewed = torch.rand(1, 1, 48, 48, generator=generator) ** 4
    style = 0.1 + 0.8 * skewed * torch.tensor([1.0, 0.7, 0.4]).view(1, 3, 1, 1)
    style = style + 0.02 * torch.rand(1, 3, 48, 48, generator=generator)
    levels = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    axes = torch.linalg.eigh(torch.cov(style.flatten(2)[0].double())).eigenvectors

    def quantile_error(image: torch.Tensor) -> float:
        along, wanted = axes.T @ image.flatten(2)[0].double(), axes.T @ style.flatten(2)[0].double()
        return float(max((along[a].quantile(levels) - wanted[a].quantile(levels)).abs().max() for a in range(3)))

    assert quantile_error(curve_map(9, 1.0)(content, style)) < 0.2 * quantile_error(global_map(1.0)(content, style))


def test_detail_weighted_statistics_match_the_textured_parts_colours():
    """Content and style each half flat, half textured, the style's flat half blue and its textured
    half orange: weighted by detail, the map gives the content's textured half the style's textured
    colour, where the whole photo's statistics give it a mix."""
    generator = torch.Generator().manual_seed(0)
    texture = torch.rand(1, 1, 32, 16, generator=generator)
    content = torch.cat([torch.full((1, 3, 32, 16), 0.5), 0.3 + 0.4 * texture.expand(1, 3, 32, 16)], dim=3)
    orange, blue = torch.tensor([0.9, 0.5, 0.1]).view(1, 3, 1, 1), torch.tensor([0.1, 0.2, 0.8]).view(1, 3, 1, 1)
    style = torch.cat([blue.expand(1, 3, 32, 16), orange * (0.7 + 0.6 * texture)], dim=3)

    def textured_error(image: torch.Tensor) -> float:
        return float((image[..., 16:].mean(dim=(2, 3)) - style[..., 16:].mean(dim=(2, 3))).norm())

    assert textured_error(detail_map(1.0, 0.05)(content, style)) < 0.5 * textured_error(global_map(1.0)(content, style))


@pytest.mark.slow
@needs_bench
def test_closed_forms_compares_maps_on_the_held_out_pairs(tmp_path):
    result = run(
        PYTHON,
        "-m",
        "benchmarks.closed_forms",
        "--held-out",
        "--size",
        "32",
        "--maps",
        "global:0.9",
        "tones:2:0.9",
        "--out",
        str(tmp_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    pairs = {line.split("|")[1].strip() for line in result.stdout.splitlines() if re.match(r"\| \w+/\d+ \|", line)}
    assert len(pairs) == 31 and not pairs & {"stylenas/1", "dpst/2", "dpst/1", "photowct2/1"}
    assert re.search(r"\| tones:2:0.9 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ to [0-9.]+ \| \d+ of 31 \|", result.stdout)
    assert (tmp_path / "metrics.md").is_file()


def test_strength_curves_are_compared_at_equal_style_distance():
    curve = [(2.0, 1.0), (1.0, 0.9), (0.5, 0.8)]  # (distance, SSIM) at strengths 0, 0.05, 0.1
    assert as_close(curve, 2.5) == (0.0, 1.0)  # the photo itself is close enough
    assert as_close(curve, 1.5) == pytest.approx((0.025, 0.95))  # halfway between the first two points
    assert as_close(curve, 0.4) is None
    reference = [(2.0, 1.0), (1.5, 0.92), (1.0, 0.85)]
    assert match_cells(reference, curve) == "0.05 | 0.900 | 0.850 | 2/2 |"
    stronger_reference = [
        (2.0, 1.0),
        (1.5, 0.97),
        (0.4, 0.5),
    ]  # keeps more SSIM at 1.5; reaches a distance curve never does
    assert match_cells(stronger_reference, curve) == "never | - | 0.500 | 0/2 |"


@pytest.mark.slow
@needs_bench
def test_bilateral_vs_residual_compares_at_full_and_at_matched_strength(tmp_path):
    tiny = [
        "trainer.max_steps=2",
        "data.crop_size=32",
        "data.num_workers=0",
        "style.size=64",
        *SHALLOW_LOSS,
    ]
    result = run(
        PYTHON,
        "-m",
        "benchmarks.bilateral_vs_residual",
        "--pairs",
        "stylenas/1",
        "--out",
        str(tmp_path),
        "--max-side",
        "96",
        "--network",
        "residual=model=residual,model.base_channels=4",
        "--network",
        "bilateral=model=bilateral,model.channels=4,model.thumbnail_size=32",
        "--",
        *tiny,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| stylenas/1 |")]
    assert len(rows) == 4  # full strength; SSIM's factors for each network; matched strength
    assert re.fullmatch(
        r"\| stylenas/1 \| bilateral \| (\d\.\d\d \| \d\.\d{3}|never \| -) \| \d\.\d{3} \| \d+/20 \|", rows[-1]
    )
    assert (tmp_path / "sheet.jpg").is_file()
    # The per-photo metrics go through `photostyle evaluate`'s path: the printed table is read from them.
    with open(tmp_path / "metrics.csv") as file:
        measured = list(csv.DictReader(file))
    assert [(row["pair"], row["method"]) for row in measured] == [
        ("stylenas/1", m) for m in ("identity", "residual", "bilateral")
    ]
    identity, residual, bilateral = measured
    assert float(identity["ssim"]) == pytest.approx(1.0)
    assert rows[0] == (
        f"| stylenas/1 | {float(identity['style_distance']):.2f} | {float(residual['ssim']):.3f} | "
        f"{float(residual['style_distance']):.2f} | {float(bilateral['ssim']):.3f} | "
        f"{float(bilateral['style_distance']):.2f} |"
    )


@pytest.mark.slow
def test_serve_load_benchmark_reports_every_client_count_without_errors():
    result = run(
        PYTHON,
        "-m",
        "benchmarks.serve_load",
        "--network",
        "bilateral",
        "--clients",
        "1",
        "3",
        "--seconds",
        "1",
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if re.match(r"\| \d+ \|", line)]
    assert [row[0].strip() for row in rows] == ["1", "3"]
    assert all(float(row[1]) > 0 and row[4].strip() == "0" for row in rows)  # requests/s, errors


@pytest.mark.slow
def test_train_throughput_times_real_training_steps():
    result = run(
        PYTHON,
        "-m",
        "benchmarks.train_throughput",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--crop",
        "32",
        "--batch",
        "2",
        "--",
        "model=residual",
        "model.base_channels=4",
        "model.num_residual_blocks=1",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "32x32 crops, batch 2 per process, 1 process(es) on cpu, precision 32-true" in result.stdout
    assert float(re.search(r"([\d.]+) images/s", result.stdout).group(1)) > 0


@pytest.mark.slow
def test_data_startup_lists_splits_and_loads():
    result = run(PYTHON, "-m", "benchmarks.data_startup", "--files", "120", "--workers", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "120 photos in 2 folders; 108 train, 12 val" in result.stdout
    assert "| total before the first step |" in result.stdout


@pytest.mark.slow
def test_big_photos_benchmark_reports_peak_memory_against_megapixels(tiny_look_model):
    result = run(PYTHON, "-m", "benchmarks.big_photos", str(tiny_look_model), "--megapixels", "0.05", "0.2")
    assert result.returncode == 0, result.stderr
    rows = [line.split("|")[1:-1] for line in result.stdout.splitlines() if line.startswith("| this |")]
    assert [row[2].strip() for row in rows] == ["274x183", "548x365"]
    for row in rows:
        width, height = map(int, row[2].split("x"))
        peak, ratio = float(row[4]), float(row[5])
        assert 30 < peak < 2000 and ratio == pytest.approx(peak / (width * height * 3 / 2**20), rel=0.02)
