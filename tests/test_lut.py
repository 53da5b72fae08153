"""`photostyle lut`: fitting a model's look as a 3D LUT, the .cube file, and ffmpeg reading it."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from photostyle.colour_difference import srgb_difference
from photostyle.inference.lattice import apply_lattice, identity_lattice, read_cube, trilinear_corners, write_cube
from photostyle.inference.lut import by_input_colour, collect_pairs, fit_lattice
from photostyle.interface import IMAGE, STYLIZED

from conftest import PHOTOSTYLE, PYTHON, photostyle_status, run, save_photo, smooth_photo

# A warm, contrasty colour matrix and offset: rgb' = rgb @ WARM.T + WARM_OFFSET, inside [0, 1]
# for every colour of smooth_photo's photos.
WARM = np.array([[0.95, 0.1, 0.0], [0.05, 0.8, 0.05], [0.0, 0.1, 0.7]])
WARM_OFFSET = np.array([0.02, 0.03, 0.05])


def warm(rgb: np.ndarray) -> np.ndarray:
    return rgb @ WARM.T + WARM_OFFSET


def photos(seeds: range, side: int = 48) -> list[np.ndarray]:
    return [smooth_photo(side, side + 8, seed) / 255.0 for seed in seeds]


def fit(model, images: list[np.ndarray], size: int = 17, smoothness: float = 1e-5) -> np.ndarray:
    pairs, _ = collect_pairs(((rgb, model(rgb)) for rgb in images), sample_per_photo=0)
    return fit_lattice(pairs, size, smoothness)


def affine_onnx(path: Path, matrix: np.ndarray, offset: np.ndarray) -> Path:
    """A photostyle ONNX model whose look is exactly rgb @ matrix.T + offset (no torch needed)."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", [IMAGE, "matrix"], ["mixed"]),
            helper.make_node("Add", ["mixed", "offset"], [STYLIZED]),
        ],
        "affine",
        [helper.make_tensor_value_info(IMAGE, TensorProto.FLOAT, ["batch", "height", "width", 3])],
        [helper.make_tensor_value_info(STYLIZED, TensorProto.FLOAT, ["batch", "height", "width", 3])],
        [
            helper.make_tensor("matrix", TensorProto.FLOAT, [3, 3], matrix.T.astype(np.float32).ravel()),
            helper.make_tensor("offset", TensorProto.FLOAT, [3], offset.astype(np.float32)),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 10
    helper.set_model_props(model, {"photostyle_version": "test"})
    onnx.save(model, path)
    return path


def test_trilinear_interpolation_of_the_identity_is_the_identity():
    colours = np.random.default_rng(0).random((1000, 3))
    colours[:2] = [[0, 0, 0], [1, 1, 1]]
    np.testing.assert_allclose(apply_lattice(identity_lattice(5), colours), colours, atol=1e-12)
    indices, weights = trilinear_corners(colours, 5)
    assert indices.min() >= 0 and indices.max() < 5**3
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)


def test_pairs_merged_by_colour_keep_the_least_squares_problem():
    rgb = np.array([[[0.2, 0.4, 0.6], [0.2, 0.4, 0.6], [1.0, 0.0, 0.0]]])
    out = np.array([[[0.1, 0.1, 0.1], [0.3, 0.5, 0.7], [0.9, 0.0, 0.0]]])
    merged, _ = collect_pairs([(rgb, out)], sample_per_photo=0)
    np.testing.assert_allclose(merged.inputs, [[0.2, 0.4, 0.6], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(merged.outputs, [[0.2, 0.3, 0.4], [0.9, 0.0, 0.0]])  # the mean of the two
    np.testing.assert_allclose(merged.weights, [2, 1])
    np.testing.assert_allclose(by_input_colour(merged).outputs, merged.outputs)


def test_identity_model_gives_the_identity_lut():
    lattice = fit(lambda rgb: rgb, photos(range(3)))
    np.testing.assert_allclose(lattice, identity_lattice(17), atol=1e-4)


def test_affine_look_is_reproduced_on_new_photos_and_across_the_cube():
    lattice = fit(warm, photos(range(4)))
    new_photos = np.concatenate(photos(range(10, 13))).reshape(-1, 3)
    assert srgb_difference(warm(new_photos), apply_lattice(lattice, new_photos)).max() < 0.5
    # Across the cube too, but for the cells where the look leaves [0, 1] (its clipping is not affine).
    cube = np.random.default_rng(1).random((5000, 3))
    differences = srgb_difference(np.clip(warm(cube), 0, 1), apply_lattice(lattice, cube))
    assert differences.mean() < 0.1 and np.percentile(differences, 99) < 0.5


def test_colours_the_photos_lack_follow_the_looks_smooth_continuation():
    reddish = [np.clip(rgb * [1.0, 0.5, 0.3] + [0.3, 0.05, 0.0], 0, 1) for rgb in photos(range(4))]
    blues = np.random.default_rng(2).random((5000, 3)) * [0.3, 0.5, 0.4] + [0.0, 0.1, 0.6]
    assert max(rgb[..., 2].max() for rgb in reddish) <= 0.3 and blues[:, 2].min() >= 0.6  # far from every photo
    # An affine look continues exactly: the thin-plate energy of an affine map is zero.
    affine = fit(warm, reddish)
    assert srgb_difference(warm(blues), apply_lattice(affine, blues)).mean() < 1.0

    # A curved look (a contrast curve and a warm shift) is reproduced on the photos' colours
    # (where leaving them alone is 6.5 away) and continues smoothly across the rest of the cube:
    # without the smoothness term the same fit's second differences reach 0.5.
    def curve(rgb):
        return np.clip(0.5 + 0.7 * np.tanh(2 * (rgb - 0.5)) / np.tanh(1) * 0.7 + [0.05, 0.0, -0.05], 0, 1)

    curved = fit(curve, reddish)
    seen = np.concatenate(reddish).reshape(-1, 3)
    assert srgb_difference(curve(seen), seen).mean() > 3
    assert srgb_difference(curve(seen), apply_lattice(curved, seen)).mean() < 0.5
    second = [np.abs(np.diff(curved, n=2, axis=axis)).max() for axis in range(3)]
    assert max(second) < 0.1


def test_cube_file_round_trip_and_layout(tmp_path):
    lattice = np.clip(identity_lattice(5) ** 0.8 + [0.01, 0.0, -0.01], 0, 1)
    write_cube(tmp_path / "look.cube", lattice, "a look")
    lines = (tmp_path / "look.cube").read_text().splitlines()
    assert lines[:4] == ['TITLE "a look"', "LUT_3D_SIZE 5", "DOMAIN_MIN 0.0 0.0 0.0", "DOMAIN_MAX 1.0 1.0 1.0"]
    assert len(lines) == 4 + 5**3
    # Red changes fastest: the second row is the colour (1/4, 0, 0).
    np.testing.assert_allclose([float(v) for v in lines[5].split()], lattice[0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(read_cube(tmp_path / "look.cube"), lattice, atol=1e-6)


def ffmpeg_lut3d(cube: Path, image: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) through ffmpeg's lut3d filter (trilinear), with PyAV's bundled libraries."""
    graph = av.filter.Graph()
    height, width = image.shape[:2]
    source = graph.add_buffer(width=width, height=height, format="rgb24", time_base=Fraction(1, 25))
    lut = graph.add("lut3d", f"file={cube}:interp=trilinear")
    sink = graph.add("buffersink")
    source.link_to(lut)
    lut.link_to(sink)
    graph.configure()
    graph.push(av.VideoFrame.from_ndarray(image, format="rgb24"))
    return graph.pull().to_ndarray(format="rgb24")


@pytest.mark.parametrize("size", [17, 33])
def test_ffmpeg_reads_the_cube_as_we_apply_it(tmp_path, size):
    def look(rgb):
        return np.clip(warm(rgb) ** 0.8 + 0.05 * np.sin(5 * rgb[..., ::-1]), 0, 1)

    lattice = fit(look, photos(range(3)), size)
    write_cube(tmp_path / "look.cube", lattice, "test")
    image = np.concatenate([smooth_photo(32, 40, seed=5), np.random.default_rng(3).integers(0, 256, (32, 40, 3))])
    image = image.astype(np.uint8)
    theirs = ffmpeg_lut3d(tmp_path / "look.cube", image).astype(int)
    ours = np.rint(apply_lattice(lattice, image / 255.0) * 255).astype(int)
    assert np.abs(theirs - ours).max() <= 1
    assert np.abs(ours - image).mean() > 5  # the look is not the identity


def lut_command(*args, capsys) -> tuple[int, str, str]:
    """`photostyle lut ...` in this process: (exit status, stdout, stderr)."""
    status = photostyle_status("lut", *args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_command_writes_a_cube_that_reproduces_the_model(tmp_path, capsys):
    model = affine_onnx(tmp_path / "warm.onnx", WARM, WARM_OFFSET)
    for seed in range(3):
        save_photo(tmp_path / "photos" / f"{seed}.jpg", 40, 56, seed)
    status, out, err = lut_command(
        model, "-o", tmp_path / "warm.cube", "--size", "17", "--photos", tmp_path / "photos", capsys=capsys
    )
    assert status == 0, err
    assert f"wrote {tmp_path / 'warm.cube'}: a 17^3 LUT" in out and "CIEDE2000" in out
    assert "lut: 100%" in err  # the progress bar
    mean = float(out.split("mean ")[1].split(",")[0])
    assert mean < 0.5
    lattice = read_cube(tmp_path / "warm.cube")
    assert lattice.shape == (17, 17, 17, 3)
    colours = np.random.default_rng(4).random((1000, 3)) * 0.8 + 0.1
    assert srgb_difference(warm(colours), apply_lattice(lattice, colours)).max() < 1.0


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing model", "does not exist"),
        ("size 20", "--size 20"),
        ("empty folder", "no photos found"),
        ("output in a file", "is a file"),
        ("existing output", "--overwrite"),
        ("not .cube", ".cube"),
        ("zero smoothness", "--smoothness"),
        ("infinite smoothness", "--smoothness inf"),
    ],
)
def test_mistakes_get_one_line_with_the_fix(tmp_path, capsys, case, expected):
    model = affine_onnx(tmp_path / "warm.onnx", WARM, WARM_OFFSET)
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("not a folder")
    (tmp_path / "old.cube").write_text("keep me")
    args = {
        "missing model": [tmp_path / "nothing.onnx", "-o", tmp_path / "x.cube"],
        "size 20": [model, "-o", tmp_path / "x.cube", "--size", "20"],
        "empty folder": [model, "-o", tmp_path / "x.cube", "--photos", tmp_path / "empty"],
        "output in a file": [model, "-o", tmp_path / "file.txt" / "x.cube"],
        "existing output": [model, "-o", tmp_path / "old.cube"],
        "not .cube": [model, "-o", tmp_path / "x.png"],
        "zero smoothness": [model, "-o", tmp_path / "x.cube", "--smoothness", "0"],
        "infinite smoothness": [model, "-o", tmp_path / "x.cube", "--smoothness", "inf"],
    }[case]
    status, out, err = lut_command(*args, capsys=capsys)
    lines = err.strip().splitlines()
    assert status == 1 and len(lines) == 1 and lines[0].startswith("photostyle: error: ") and expected in lines[0], err
    assert not (tmp_path / "x.cube").exists() and (tmp_path / "old.cube").read_text() == "keep me"


@pytest.mark.slow
def test_command_on_an_exported_network(tiny_model, photo_folder, tmp_path):
    result = run(
        PHOTOSTYLE,
        "lut",
        str(tiny_model),
        "-o",
        str(tmp_path / "tiny.cube"),
        "--size",
        "33",
        "--photos",
        str(photo_folder),
    )
    assert result.returncode == 0, result.stderr
    assert "a 33^3 LUT" in result.stdout and "Traceback" not in result.stderr
    lattice = read_cube(tmp_path / "tiny.cube")
    assert lattice.shape == (33, 33, 33, 3) and lattice.min() >= 0 and lattice.max() <= 1
    assert np.abs(lattice - identity_lattice(33)).mean() > 0.01  # the tiny model's warm shift
    again = run(PHOTOSTYLE, "lut", str(tiny_model), "-o", str(tmp_path / "tiny.cube"), "--size", "33")
    assert again.returncode == 1 and again.stderr.count("\n") == 1 and "--overwrite" in again.stderr


@pytest.mark.slow
def test_fidelity_benchmark_prints_a_row_per_fit(tiny_model, tmp_path):
    bench = tmp_path / "bench"
    for name in ("a.jpg", "b.png"):
        save_photo(bench / "content" / name, 30, 40, seed=len(name))
    rows = [f"set,{i},content/{name},,,,," for i, name in enumerate(("a.jpg", "b.png"))]
    (bench / "pairs.csv").write_text(
        "set,id,content,style,content_seg,style_seg,reference,reference_method\n" + "\n".join(rows)
    )
    result = run(
        PYTHON,
        "-m",
        "benchmarks.lut_fidelity",
        f"tiny={tiny_model}",
        "--bench",
        str(bench),
        "--size",
        "17",
        "--max-side",
        "48",
        "--smoothness",
        "1e-4",
        "1e-5",
    )
    assert result.returncode == 0, result.stderr
    rows = [line.split(" | ") for line in result.stdout.splitlines() if line.startswith("| tiny |")]
    assert [row[1:3] for row in rows] == [
        ["nothing (the photo itself)", ""],
        ["bundled photos (`photostyle lut`)", "0.0001"],
        ["bundled photos (`photostyle lut`)", "1e-05"],
        ["all bench photos (bound)", "1e-05"],
        ["each bench photo alone (bound)", "1e-05"],
    ]
    fitted, one_lut, own_luts = [float(row[3]) for row in rows[2:]]
    assert fitted + 0.05 >= one_lut >= own_luts - 0.05  # each bound fits the bench photos at least as closely
