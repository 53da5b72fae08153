"""The `photostyle stylize` command, run as a user runs it."""

import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from bad_inputs import digest
from PIL import Image

from photostyle import files
from photostyle.cli import main
from photostyle.inference.runtime import StyleModel
from photostyle.inference.stylize import stylize_paths

from conftest import PHOTO_FOLDER_PHOTOS, PHOTOSTYLE, PYTHON, run, save_photo, smooth_photo


def stylize(*args) -> subprocess.CompletedProcess:
    return run(PHOTOSTYLE, "stylize", *map(str, args))


def test_files_and_folders_keep_size_and_change_colour(tiny_model, photo_folder, tmp_path):
    single = save_photo(tmp_path / "single.png", 31, 17, seed=7)
    inputs_before = digest(photo_folder)
    result = stylize(tiny_model, single, photo_folder, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "stylize: 100%" in result.stderr  # the progress bar
    outputs = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert outputs == [*(f"photos/{name}" for name in PHOTO_FOLDER_PHOTOS), "single.png"]
    for source in [single, *sorted(photo_folder.rglob("*.*"))]:
        relative = source.name if source == single else Path("photos") / source.relative_to(photo_folder)
        before, after = Image.open(source), Image.open(tmp_path / "out" / relative)
        assert after.size == before.size
        shift = np.asarray(after.convert("RGB"), np.float32).mean((0, 1)) - np.asarray(
            before.convert("RGB"), np.float32
        ).mean((0, 1))
        assert shift[0] > 4 and shift[2] < -4  # the tiny model's warm shift
    assert digest(photo_folder) == inputs_before  # inputs untouched


def test_a_photo_that_cannot_be_told_is_skipped_with_one_warning_line(tiny_model, photo_folder, tmp_path):
    (photo_folder / "zz.jpg").symlink_to(photo_folder / "zz.jpg")  # a link to itself: ELOOP
    result = stylize(tiny_model, photo_folder, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "zz.jpg" in line]
    assert warnings == [f"photostyle: warning: skipping {photo_folder / 'zz.jpg'}: Too many levels of symbolic links"]
    assert "UserWarning" not in result.stderr
    assert len([p for p in (tmp_path / "out").rglob("*") if p.is_file()]) == 6


def test_only_photostyles_own_warnings_are_one_line_and_only_while_the_command_runs(tiny_model, tmp_path, capsys):
    import warnings

    from photostyle.cli import _one_line_for_the_user
    from photostyle.errors import PhotostyleWarning

    before = warnings.showwarning
    with pytest.raises(SystemExit):
        main(["stylize", str(tiny_model), str(tmp_path / "none"), "-o", str(tmp_path / "out")])
    assert warnings.showwarning is before  # restored: main() runs in-process in tests and benchmarks
    passed_on = []
    show = _one_line_for_the_user(lambda *args: passed_on.append(args[:2]))
    library = DeprecationWarning("a library's")
    show(library, DeprecationWarning, "lib.py", 1)
    show(PhotostyleWarning("skipping x.jpg"), PhotostyleWarning, "photo_folders.py", 2)
    assert passed_on == [(library, DeprecationWarning)]
    assert capsys.readouterr().err.splitlines()[-1] == "photostyle: warning: skipping x.jpg"


def test_matches_the_model_run_directly(tiny_model, tmp_path):
    source = save_photo(tmp_path / "x.png", 23, 29)
    assert stylize(tiny_model, source, "-o", tmp_path / "out").returncode == 0
    expected = StyleModel(tiny_model)(np.asarray(Image.open(source), np.float32) / 255)
    written = np.asarray(Image.open(tmp_path / "out" / "x.png"), np.float32) / 255
    assert np.abs(written - expected).max() <= 0.5 / 255 + 1e-6  # only the rounding to 8 bits


def test_strength_blends_the_result_with_the_photo(tiny_model, tmp_path):
    source = save_photo(tmp_path / "x.png", 23, 29)
    photo = np.asarray(Image.open(source), np.float32) / 255
    full = StyleModel(tiny_model)(photo)
    for strength in ["0", "0.5"]:
        assert stylize(tiny_model, source, "-o", tmp_path / strength, "--strength", strength).returncode == 0
        written = np.asarray(Image.open(tmp_path / strength / "x.png"), np.float32) / 255
        assert np.abs(written - (photo + float(strength) * (full - photo))).max() <= 0.5 / 255 + 1e-6
    assert np.abs(full - photo).max() > 0.05  # so the blends above are not all the photo
    line = one_error_line(stylize(tiny_model, source, "-o", tmp_path / "bad", "--strength", "1.5"))
    assert "--strength" in line and "between 0" in line and not (tmp_path / "bad").exists()


def test_never_imports_torch(tiny_model, tmp_path):
    source = save_photo(tmp_path / "x.jpg", 20, 20)
    code = (
        "import sys\nfrom photostyle.cli import main\n"
        f"main(['stylize', {str(tiny_model)!r}, {str(source)!r}, '-o', {str(tmp_path / 'out')!r}])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = run(PYTHON, "-c", code)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "x.jpg").is_file()


def test_rgba_grey_and_sixteen_bit_inputs(tiny_model, tmp_path):
    rgba = np.dstack([smooth_photo(12, 14), np.linspace(0, 255, 168).reshape(12, 14).astype(np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    Image.fromarray(smooth_photo(12, 14)).convert("L").save(tmp_path / "grey.png")
    Image.fromarray(np.asarray(Image.open(tmp_path / "grey.png"), np.uint16) * 257).save(tmp_path / "deep.png")
    result = stylize(
        tiny_model, tmp_path / "rgba.png", tmp_path / "grey.png", tmp_path / "deep.png", "-o", tmp_path / "out"
    )
    assert result.returncode == 0, result.stderr
    out = Image.open(tmp_path / "out" / "rgba.png")
    assert out.mode == "RGBA" and np.array_equal(np.asarray(out)[..., 3], rgba[..., 3])
    assert Image.open(tmp_path / "out" / "grey.png").mode == "RGB"  # stylized in colour
    assert Image.open(tmp_path / "out" / "deep.png").size == (14, 12)


def test_max_side_and_exif_rotation(tiny_model, tmp_path):
    image = Image.fromarray(smooth_photo(40, 100))
    exif = image.getexif()
    exif[0x0112] = 8  # rotated 90 degrees counter-clockwise
    image.save(tmp_path / "r.jpg", exif=exif)
    assert stylize(tiny_model, tmp_path / "r.jpg", "-o", tmp_path / "out", "--max-side", 50).returncode == 0
    assert Image.open(tmp_path / "out" / "r.jpg").size == (20, 50)  # upright, longer side 50


def test_refuses_to_overwrite_inputs_and_existing_outputs(tiny_model, tmp_path):
    source = save_photo(tmp_path / "x.jpg", 20, 20)
    original = source.read_bytes()
    result = stylize(tiny_model, source, "-o", tmp_path)
    assert result.returncode == 1 and "overwrite the input" in result.stderr and "Traceback" not in result.stderr
    assert source.read_bytes() == original
    assert stylize(tiny_model, source, "-o", tmp_path / "out").returncode == 0
    first = (tmp_path / "out" / "x.jpg").read_bytes()
    result = stylize(tiny_model, source, "-o", tmp_path / "out")
    assert result.returncode == 1 and "--overwrite" in result.stderr
    (tmp_path / "out" / "x.jpg").write_bytes(b"old")
    assert stylize(tiny_model, source, "-o", tmp_path / "out", "--overwrite").returncode == 0
    assert (tmp_path / "out" / "x.jpg").read_bytes() == first


def test_an_output_folder_inside_the_input_folder_is_not_read_as_input(tiny_model, tmp_path):
    folder = tmp_path / "photos"
    save_photo(folder / "a.jpg", 16, 16)
    for _ in range(2):  # the second run once took the first run's result for a photo to stylize
        assert stylize_paths(tiny_model, [folder], folder / "styled", overwrite=True) == []
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.jpg")) == ["a.jpg", "styled/photos/a.jpg"]


def test_compare_lays_photos_beside_their_stylized_versions(tiny_model, tmp_path, capsys):
    folder = tmp_path / "photos"
    save_photo(folder / "a.jpg", 30, 40)
    save_photo(folder / "sub" / "b.png", 40, 30, seed=1)
    assert stylize_paths(tiny_model, [folder], tmp_path / "out") == []
    capsys.readouterr()  # the progress bar's lines
    main(
        ["compare", str(folder), str(tmp_path / "out" / "photos"), "-o", str(tmp_path / "sheet.png"), "--height", "50"]
    )
    sheet = Image.open(tmp_path / "sheet.png")
    assert sheet.height >= 2 * 50 and sheet.width >= 2 * 30  # two rows, before and after
    (tmp_path / "out" / "photos" / "a.jpg").unlink()
    for before, named in [(folder, "a.jpg is missing"), (folder / "sub" / "b.png", "is not a folder")]:
        with pytest.raises(SystemExit):
            main(["compare", str(before), str(tmp_path / "out" / "photos"), "-o", str(tmp_path / "again.png")])
        error = capsys.readouterr().err.strip().splitlines()
        assert len(error) == 1 and named in error[0], error
    assert not (tmp_path / "again.png").exists()


def one_error_line(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    "case",
    ["missing_model", "not_onnx", "truncated_onnx", "empty_onnx", "other_onnx", "missing_photo", "output_is_file"],
)
def test_bad_input_gets_one_clear_line(tiny_model, tmp_path, case):
    model, source, out = tiny_model, save_photo(tmp_path / "x.jpg", 16, 16), tmp_path / "out"
    if case == "missing_model":
        model = tmp_path / "nope.onnx"
    elif case == "not_onnx":
        model = tmp_path / "fake.onnx"
        model.write_text("not a model")
    elif case == "truncated_onnx":
        model = tmp_path / "cut.onnx"
        model.write_bytes(tiny_model.read_bytes()[:5000])
    elif case == "empty_onnx":
        model = tmp_path / "empty.onnx"
        model.write_bytes(b"")
    elif case == "other_onnx":
        model = tmp_path / "other.onnx"
        graph = onnx.helper.make_graph(
            [onnx.helper.make_node("Relu", ["x"], ["y"])],
            "other",
            [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 4])],
            [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 4])],
        )
        onnx.save(onnx.helper.make_model(graph), model)
    elif case == "missing_photo":
        source = tmp_path / "nope.jpg"
    elif case == "output_is_file":
        out = source
    line = one_error_line(stylize(model, source, "-o", out))
    expected = {
        "missing_model": "does not exist",
        "not_onnx": "fake.onnx is not a loadable ONNX model (not an ONNX file, or one cut short)",
        "truncated_onnx": "cut.onnx is not a loadable ONNX model (not an ONNX file, or one cut short)",
        "empty_onnx": "empty.onnx is not a loadable ONNX model (the file is empty)",
        "other_onnx": "not a photostyle one",
        "missing_photo": "no such file",
        "output_is_file": "is a file",
    }[case]
    assert expected in line


def test_corrupt_photo_in_a_batch_is_reported_and_the_rest_done(tiny_model, photo_folder, tmp_path):
    (photo_folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    result = stylize(tiny_model, photo_folder, "-o", tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "broken.jpg" in result.stderr and "1 file(s) could not be stylized" in result.stderr
    assert len(list((tmp_path / "out").rglob("*.*"))) == 6
    assert not list((tmp_path / "out").rglob(".*.part"))


def test_ctrl_c_stops_a_batch_in_one_line_and_leaves_no_partial_file(tiny_model, tmp_path, monkeypatch, capsys):
    for index in range(5):
        save_photo(tmp_path / "photos" / f"{index}.png", 40, 60, seed=index)
    synced = []

    def ctrl_c_in_the_third_write(descriptor: int) -> None:  # the third photo's bytes are written, not yet renamed
        synced.append(descriptor)
        if len(synced) == 3:
            raise KeyboardInterrupt
        real_fsync(descriptor)

    real_fsync = files.os.fsync
    monkeypatch.setattr(files.os, "fsync", ctrl_c_in_the_third_write)
    with pytest.raises(SystemExit) as stopped:
        main(["stylize", str(tiny_model), str(tmp_path / "photos"), "-o", str(tmp_path / "out")])
    assert stopped.value.code == 130
    assert capsys.readouterr().err.rstrip().splitlines()[-1] == "photostyle: interrupted"
    out = tmp_path / "out" / "photos"
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.png"]  # no hidden .part file
    for name in ("0.png", "1.png"):  # each output is whole
        assert Image.open(out / name).size == (60, 40)


@pytest.mark.slow
def test_post_makes_the_result_closer_to_a_local_affine_map_of_the_photo(tiny_model, tmp_path):
    from photostyle.evaluation.metrics import affine_residual
    from photostyle.training.tensors import load

    source = save_photo(tmp_path / "x.png", 48, 64)
    plain, post = tmp_path / "plain", tmp_path / "post"
    assert stylize(tiny_model, source, "-o", plain).returncode == 0
    result = stylize(tiny_model, source, "-o", post, "--post")
    assert result.returncode == 0, result.stderr
    content = load(source)
    assert affine_residual(load(post / "x.png"), content) < 0.7 * affine_residual(load(plain / "x.png"), content)
