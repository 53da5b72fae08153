"""Every kind of odd or bad photo, model file and output, through the real entry points:
`photostyle stylize` and `evaluate` (evaluate's photos in one process), and the serve API
(train.py, export.py and optimize: test_bad_training_inputs.py).

For each case: a failure exits non-zero with a line that names the problem and no
traceback; an odd but valid photo is stylized at its own size; the inputs are
byte-identical afterwards and no partial output (or temporary file) is left behind.
"""

import gzip
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import (
    BOUND_BY_PERMISSIONS,
    clean_failure,
    digest,
    made,
    needs_file_permissions,
    no_leftovers,
    save_image,
    small_photo,
    written,
)
from fastapi.testclient import TestClient
from PIL import Image

from photostyle.images import IMAGE_EXTENSIONS

from conftest import PHOTOSTYLE, photostyle_status, run

FUZZED = Path(__file__).parent / "data"


def _animated(path: Path) -> None:
    frames = [small_photo(20, 24).quantize(), small_photo(20, 24).transpose(Image.Transpose.FLIP_LEFT_RIGHT).quantize()]
    save_image(path, frames[0], save_all=True, append_images=frames[1:], duration=100, loop=0)


def _exif_rotated(path: Path) -> None:
    image = small_photo(20, 30)
    exif = image.getexif()
    exif[0x0112] = 6
    save_image(path, image, exif=exif)


def _bomb(path: Path) -> None:
    save_image(path, Image.new("1", (30000, 30000)), optimize=True)


def _truncated(path: Path) -> None:
    save_image(path, small_photo(64, 64))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _sixteen_bit(path: Path) -> None:
    save_image(path, Image.fromarray(np.asarray(small_photo(16, 18).convert("L"), np.uint16) * 257))


def _fuzzed(name: str):
    """A file of test_fuzz_images.py's fuzzer that made Pillow raise TypeError, IndexError or
    struct.error, which the image reader once let through (a 500 from the server). Kept as made
    (tests/data/fuzzed_CASE.*): the fuzzer's files change with Pillow's encoders."""
    return lambda path: path.write_bytes((FUZZED / name).read_bytes())


def _float_with_nan(path: Path) -> None:
    values = np.linspace(0, 1, 120, dtype=np.float32).reshape(10, 12)
    values[2, :4] = [np.nan, np.inf, -np.inf, 7.0]
    save_image(path, Image.fromarray(values))


def _palette_transparent(path: Path) -> None:
    image = small_photo(14, 16).quantize(8)
    save_image(path, image, transparency=0)


# name -> (file name, how to make it, whether stylize must succeed)
PHOTOS = {
    "zero bytes": ("empty.jpg", lambda p: p.write_bytes(b""), False),
    "truncated jpeg": ("cut.jpg", _truncated, False),
    "truncated png": ("cut.png", _truncated, False),
    "text named .jpg": ("notes.jpg", lambda p: p.write_text("not a photo"), False),
    "html named .png": ("page.png", lambda p: p.write_text("<html></html>"), False),
    "random bytes": ("noise.webp", lambda p: p.write_bytes(os.urandom(500)), False),
    "declared 900 megapixels": ("bomb.png", _bomb, False),
    "cmyk jpeg": ("cmyk.jpg", lambda p: save_image(p, small_photo(12, 15).convert("CMYK")), True),
    "16-bit png": ("deep.png", _sixteen_bit, True),
    "palette with transparency": ("palette.png", _palette_transparent, True),
    "greyscale + alpha": ("la.png", lambda p: save_image(p, small_photo(10, 11).convert("LA")), True),
    "rgba": ("rgba.png", lambda p: save_image(p, small_photo(10, 11).convert("RGBA")), True),
    "1-bit": ("mono.png", lambda p: save_image(p, small_photo(10, 11).convert("1")), True),
    "1x1": ("dot.png", lambda p: save_image(p, small_photo(1, 1)), True),
    "1xN": ("line.png", lambda p: save_image(p, small_photo(1, 37)), True),
    "Nx1": ("column.png", lambda p: save_image(p, small_photo(29, 1)), True),
    "3x3": ("tiny.png", lambda p: save_image(p, small_photo(3, 3)), True),
    "odd size": ("odd.jpg", lambda p: save_image(p, small_photo(17, 31)), True),
    "exif rotated": ("rotated.jpg", _exif_rotated, True),
    "animated gif": ("anim.gif", _animated, True),
    "animated webp": ("anim.webp", _animated, True),
    "bmp": ("old.bmp", lambda p: save_image(p, small_photo(9, 13)), True),
    "tiff": ("scan.tiff", lambda p: save_image(p, small_photo(9, 13)), True),
    "non-ascii name": ("ñandú фото.jpg", lambda p: save_image(p, small_photo(12, 12)), True),
    "spaces in the folder": ("with space/photo one.png", lambda p: save_image(p, small_photo(12, 12)), True),
    "upper-case suffix": ("LOUD.JPEG", lambda p: save_image(p, small_photo(12, 12), format="JPEG"), True),
    "gzip named .png": ("packed.png", lambda p: p.write_bytes(gzip.compress(b"x" * 1000)), False),
    "svg named .png": ("drawing.png", lambda p: p.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>'), False),
    "jpeg with trailing bytes": (
        "tail.jpg",
        lambda p: (save_image(p, small_photo(12, 12)), p.write_bytes(p.read_bytes() + b"junk" * 50)),
        True,
    ),
    "greyscale jpeg": ("grey.jpg", lambda p: save_image(p, small_photo(12, 13).convert("L")), True),
    "32-bit float tiff": (
        "float.tiff",
        lambda p: save_image(p, Image.fromarray(np.linspace(0, 1, 120, dtype=np.float32).reshape(10, 12))),
        True,
    ),
    "float tiff with NaN and infinities": ("nan.tiff", _float_with_nan, True),
    "fuzzed tiff (TypeError in Pillow)": ("fuzzed.tiff", _fuzzed("fuzzed_3907.tiff"), False),
    "fuzzed gif (IndexError in Pillow)": ("fuzzed.gif", _fuzzed("fuzzed_28.gif"), False),
    "fuzzed gif (struct.error in Pillow)": ("fuzzed2.gif", _fuzzed("fuzzed_88.gif"), False),
}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("odd photos")
    for file_name, make, _ in PHOTOS.values():
        (folder / file_name).parent.mkdir(parents=True, exist_ok=True)
        make(folder / file_name)
    return folder


def upright_size(case: str, original: Image.Image) -> tuple[int, int]:
    """The size a valid photo's result has: its own, turned upright by its EXIF orientation."""
    return original.size[::-1] if case == "exif rotated" else original.size


@pytest.mark.slow
@pytest.mark.parametrize("case", PHOTOS)
def test_stylize_each_odd_or_bad_photo(case, photos, tiny_model, tmp_path):
    file_name, _, valid = PHOTOS[case]
    source, before = photos / file_name, digest(photos)
    out = tmp_path / "out"
    result = run(PHOTOSTYLE, "stylize", str(tiny_model), str(source), "-o", str(out))
    target = out / (
        Path(file_name).name
        if Path(file_name).suffix.lower() not in (".gif",)
        else Path(file_name).with_suffix(".png").name
    )
    if valid:
        assert result.returncode == 0, result.stderr
        with Image.open(source) as original, Image.open(target) as stylized:
            assert stylized.size == upright_size(case, original)
    else:
        assert clean_failure(result, Path(file_name).name), result.stderr
        assert not target.exists()
    assert digest(photos) == before and no_leftovers(out)


@pytest.mark.parametrize("case", PHOTOS)
def test_serve_answers_each_odd_or_bad_photo(case, photos, tiny_model, tmp_path_factory):
    from photostyle.inference.serve import create_app

    file_name, _, valid = PHOTOS[case]
    folder = tmp_path_factory.mktemp("served")
    shutil.copy(tiny_model, folder / "m.onnx")
    with TestClient(create_app(folder, allowed_hosts=["testserver"])) as client:
        data = (photos / file_name).read_bytes()
        answer = client.post(
            "/api/stylize",
            files={"image": (Path(file_name).name, data, "application/octet-stream")},
            data={"model": "m", "format": "png"},
        )
    if valid:
        assert answer.status_code == 200, answer.text
        with Image.open(photos / file_name) as original:
            assert Image.open(io.BytesIO(answer.content)).size == upright_size(case, original)
    else:
        assert answer.status_code in (413, 422) and answer.json()["detail"], answer.text


@pytest.mark.slow
def test_evaluate_skips_each_bad_photo_by_name(photos, style_photo, tmp_path, capsys):
    """In process, a folder of every bad photo beside a good one (evaluate reads through the
    reader the stylize cases above test one process each); and one bad photo through the entry point."""
    folder = tmp_path / "in"
    # Numbered, as evaluate refuses two photos of one name (cut.jpg, cut.png).
    bad = [f"{number}-{Path(name).name}" for number, (name, _, valid) in enumerate(PHOTOS.values()) if not valid]
    folder.mkdir()
    for name in bad:
        written(folder / name, (photos / name.split("-", 1)[1]).read_bytes())
    save_image(folder / "good.png", small_photo(24, 32))
    # A folder's search takes photo suffixes only: the rest (the fuzzed GIFs) are named one by one.
    by_name = [folder / name for name in bad if Path(name).suffix not in IMAGE_EXTENSIONS]
    assert (
        by_name
        and photostyle_status(
            "evaluate", folder, *by_name, "--style", style_photo, "-m", "identity", "-o", tmp_path / "e"
        )
        == 1
    )
    err = capsys.readouterr().err
    skipped = [line for line in err.splitlines() if "photostyle: skipped: " in line]  # after the bar's \r
    assert len(skipped) == len(bad) and all(any(name in line for line in skipped) for name in bad), err
    assert f"{len(bad)} photo(s) could not be evaluated" in err and "Traceback" not in err
    assert (tmp_path / "e" / "identity" / "good.png").is_file()
    one = run(
        PHOTOSTYLE,
        "evaluate",
        str(photos / "cut.png"),
        "--style",
        str(style_photo),
        "-m",
        "identity",
        "-o",
        str(tmp_path / "o"),
    )
    assert clean_failure(one, "cut.png"), one.stderr


def _other_onnx(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["x"], ["y"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    onnx.save(helper.make_model(graph), path)


MODELS = {
    "missing": lambda folder, good: folder / "none.onnx",
    "a folder": lambda folder, good: made(folder / "dir.onnx", Path.mkdir),
    "zero bytes": lambda folder, good: written(folder / "empty.onnx", b""),
    "text": lambda folder, good: written(folder / "text.onnx", b"hello"),
    "truncated": lambda folder, good: written(folder / "cut.onnx", good.read_bytes()[:3000]),
    "another model": lambda folder, good: made(folder / "other.onnx", _other_onnx),
    "a photo": lambda folder, good: made(
        folder / "photo.onnx", lambda p: save_image(p, small_photo(8, 8), format="PNG")
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", MODELS)
def test_stylize_and_serve_refuse_each_wrong_model(case, tiny_model, tmp_path):
    model = MODELS[case](tmp_path, tiny_model)
    source = tmp_path / "in" / "p.png"
    save_image(source, small_photo(10, 10))
    result = run(PHOTOSTYLE, "stylize", str(model), str(source), "-o", str(tmp_path / "out"))
    assert clean_failure(result, model.name), result.stderr
    assert not (tmp_path / "out" / "p.png").exists()
    if case != "missing":
        served = tmp_path / "served"
        served.mkdir()
        if model.is_file():
            shutil.copy(model, served / "x.onnx")
        else:
            (served / "x.onnx").mkdir()
        # A short timeout: a serve that started after all would otherwise hold the run for minutes.
        result = run(PHOTOSTYLE, "serve", str(served), timeout=60)
        named = "no usable model in" if model.is_file() else "no .onnx models in"
        assert clean_failure(result, named, "x.onnx" if model.is_file() else str(served)), result.stderr


@pytest.mark.parametrize("case", [case for case in MODELS if case != "missing"])
def test_serve_lists_each_wrong_model_beside_a_good_one_as_unavailable(case, tiny_model, tmp_path, capsys):
    from photostyle.inference.serve import create_app

    model = MODELS[case](tmp_path, tiny_model)
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(tiny_model, served / "good.onnx")
    if model.is_file():
        shutil.copy(model, served / "x.onnx")
    else:
        (served / "x.onnx").mkdir()
    app = create_app(served, allowed_hosts=["testserver"])
    with TestClient(app) as client:
        listed = {m["name"]: m for m in client.get("/api/models").json()}
        answer = client.post("/api/stylize", files={"image": ("p.png", _png())}, data={"model": "good"})
    assert listed["good"]["available"] and answer.status_code == 200
    if model.is_file():
        assert (
            listed["x"]["available"] is False
            and "x.onnx" in listed["x"]["problem"]
            and str(served) not in listed["x"]["problem"]
        )
        assert "photostyle serve: not serving x.onnx: " in capsys.readouterr().err
    else:  # a folder named like a model is not a model file at all
        assert "x" not in listed


def _png() -> bytes:
    buffer = io.BytesIO()
    small_photo(10, 12).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_output_mistakes(tiny_model, tmp_path, record_property):
    source_dir = tmp_path / "in"
    source = source_dir / "p.png"
    save_image(source, small_photo(10, 12))
    before = digest(source_dir)
    # The output folder is a file.
    (tmp_path / "file").write_text("x")
    assert clean_failure(
        run(PHOTOSTYLE, "stylize", str(tiny_model), str(source), "-o", str(tmp_path / "file")), "is a file"
    )
    # Output into the input's own folder: the result would replace the photo.
    assert clean_failure(
        run(PHOTOSTYLE, "stylize", str(tiny_model), str(source), "-o", str(source_dir)), "overwrite the input"
    )
    # An existing output is kept unless --overwrite.
    assert run(PHOTOSTYLE, "stylize", str(tiny_model), str(source), "-o", str(tmp_path / "out")).returncode == 0
    first = (tmp_path / "out" / "p.png").read_bytes()
    assert clean_failure(
        run(PHOTOSTYLE, "stylize", str(tiny_model), str(source), "-o", str(tmp_path / "out")), "--overwrite"
    )
    assert (tmp_path / "out" / "p.png").read_bytes() == first
    assert (
        run(PHOTOSTYLE, "stylize", str(tiny_model), str(source), "-o", str(tmp_path / "out"), "--overwrite").returncode
        == 0
    )
    # A missing input, and a folder with no photos.
    assert clean_failure(
        run(PHOTOSTYLE, "stylize", str(tiny_model), str(tmp_path / "nope.jpg"), "-o", str(tmp_path / "o2")), "nope.jpg"
    )
    (tmp_path / "empty").mkdir()
    assert clean_failure(
        run(PHOTOSTYLE, "stylize", str(tiny_model), str(tmp_path / "empty"), "-o", str(tmp_path / "o3")), "no photos"
    )
    # A folder where a photo file was expected.
    (tmp_path / "folder.jpg").mkdir()
    assert clean_failure(
        run(PHOTOSTYLE, "stylize", str(tiny_model), str(tmp_path / "folder.jpg"), "-o", str(tmp_path / "o4")),
        "no photos",
    )
    assert digest(source_dir) == before and no_leftovers(tmp_path)
    record_property("cases", 7)


@pytest.mark.slow
@needs_file_permissions
def test_permission_mistakes(tiny_model, tmp_path):
    source = tmp_path / "in" / "p.png"
    save_image(source, small_photo(10, 12))
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    secret = tmp_path / "secret.png"
    save_image(secret, small_photo(5, 5))
    secret.chmod(0)

    def stylize(photo: Path, out: Path):
        return run(PHOTOSTYLE, "stylize", str(tiny_model), str(photo), "-o", str(out), limit=BOUND_BY_PERMISSIONS)

    written_to_locked = stylize(source, locked)
    assert clean_failure(written_to_locked, str(locked)), written_to_locked.stderr
    unreadable = stylize(secret, tmp_path / "o")
    assert clean_failure(unreadable, str(secret), "permission denied"), unreadable.stderr
    assert not any(locked.iterdir()) and no_leftovers(tmp_path)


def test_compare_never_writes_over_a_photo_it_shows_and_makes_the_sheets_folder(tmp_path, capsys):
    save_image(tmp_path / "before" / "a.png", small_photo(12, 16))
    save_image(tmp_path / "after" / "a.png", small_photo(12, 16).rotate(180))
    before = digest(tmp_path)
    for shown in (tmp_path / "before" / "a.png", tmp_path / "after" / "a.png"):
        assert photostyle_status("compare", tmp_path / "before", tmp_path / "after", "-o", shown) == 1
        assert "would overwrite one of the photos it shows" in capsys.readouterr().err
    assert photostyle_status("compare", tmp_path / "before", tmp_path / "after", "-o", tmp_path / "sheet.xyz") == 1
    assert "unknown image suffix" in capsys.readouterr().err
    assert digest(tmp_path) == before
    assert (
        photostyle_status("compare", tmp_path / "before", tmp_path / "after", "-o", tmp_path / "new" / "sheet.jpg") == 0
    )
    assert Image.open(tmp_path / "new" / "sheet.jpg").height > 12


def test_evaluate_never_writes_over_an_input_nor_outside_its_folder(tmp_path, style_photo, capsys):
    # The method reinhard writes OUT/reinhard/a.png: here that is the content photo itself.
    content = tmp_path / "reinhard" / "a.png"
    save_image(content, small_photo(24, 32))
    (tmp_path / "file").write_text("x")
    before = digest(tmp_path)
    mistakes = [
        (["-m", "reinhard", "-o", tmp_path], f"would overwrite the input {content}"),
        (["-m", "identity", "-o", tmp_path / "file"], "is a file"),
        (["-m", "../escaped=identity", "-o", tmp_path / "e"], "must be a plain folder name"),
        (["-m", "optimize", "--style-weight", "inf", "-o", tmp_path / "e"], "must be a finite number"),
    ]
    for arguments, named in mistakes:
        assert photostyle_status("evaluate", content, "--style", style_photo, *arguments) == 1
        err = capsys.readouterr().err
        assert named in err and "Traceback" not in err, err
    assert digest(tmp_path) == before and not (tmp_path / "escaped").exists() and not (tmp_path / "e").exists()


def test_evaluate_skips_an_unreadable_photo_and_does_the_others(tmp_path, style_photo, capsys):
    save_image(tmp_path / "in" / "a.png", small_photo(24, 32))
    (tmp_path / "in" / "b.png").write_bytes((tmp_path / "in" / "a.png").read_bytes()[:60])
    assert (
        photostyle_status("evaluate", tmp_path / "in", "--style", style_photo, "-m", "identity", "-o", tmp_path / "e")
        == 1
    )
    err = capsys.readouterr().err
    assert "skipped: " in err and "b.png" in err and "1 photo(s) could not be evaluated" in err
    assert (tmp_path / "e" / "identity" / "a.png").is_file() and (tmp_path / "e" / "sheet.png").is_file()
    assert [line.split(",")[0] for line in (tmp_path / "e" / "metrics.csv").read_text().splitlines()] == [
        "photo",
        "a.png",
    ]


def test_lut_fits_the_readable_photos_and_says_some_were_not(tiny_model, tmp_path, capsys):
    save_image(tmp_path / "in" / "a.png", small_photo(24, 32))
    (tmp_path / "in" / "b.jpg").write_bytes(b"not a photo")
    status = photostyle_status(
        "lut", tiny_model, "-o", tmp_path / "look.cube", "--photos", tmp_path / "in", "--size", "17"
    )
    assert status == 1 and (tmp_path / "look.cube").is_file()
    assert "1 photo(s) could not be read" in capsys.readouterr().err


def test_stylize_refuses_an_output_folder_that_holds_the_input_folder(tiny_model, tmp_path, capsys):
    save_image(tmp_path / "same" / "a.png", small_photo(10, 12))
    for output in (tmp_path / "same", tmp_path):
        assert photostyle_status("stylize", tiny_model, tmp_path / "same", "-o", output) == 1
        assert "holds the input folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.png", "same"]


def test_stylize_refuses_more_threads_than_the_machine_can_carry(capsys):
    from photostyle.arguments import build_parser

    # Parsed only: were the bound gone, running would start 100000 threads and take the machine's memory.
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["stylize", "model.onnx", "a.png", "-o", "out", "--threads", "100000"])
    assert stopped.value.code == 2 and "leave --threads out" in capsys.readouterr().err
    assert build_parser().parse_args(["stylize", "model.onnx", "a.png", "-o", "out", "--threads", "2"]).threads == 2


def test_a_model_of_one_fixed_photo_size_is_refused_when_it_loads(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from photostyle.errors import PhotostyleError
    from photostyle.inference.runtime import StyleModel

    shape = [1, 64, 64, 3]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["image"], ["stylized"])],
        "fixed",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, shape)],
        [helper.make_tensor_value_info("stylized", TensorProto.UINT8, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    helper.set_model_props(model, {"photostyle_version": "test"})
    onnx.save(model, tmp_path / "fixed.onnx")
    with pytest.raises(PhotostyleError, match="of any H and W; export it again"):
        StyleModel(tmp_path / "fixed.onnx")


def test_a_file_name_that_is_not_utf8_is_printed_escaped(tiny_model, tmp_path):
    # A terminal's UTF-8 stdout is strict: the name's undecodable byte must not fail the last line.
    name = os.fsdecode(b"caf\xe9")
    save_image(tmp_path / f"{name}.png", small_photo(10, 12))
    result = run(
        PHOTOSTYLE,
        "stylize",
        str(tiny_model),
        str(tmp_path / f"{name}.png"),
        "-o",
        str(tmp_path / f"out {name}"),
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert result.returncode == 0, result.stderr[-500:]
    assert (tmp_path / f"out {name}" / f"{name}.png").is_file() and "caf\\udce9" in result.stdout


def test_evaluate_never_writes_over_the_folder_of_outputs_it_reads(tmp_path, style_photo, capsys):
    save_image(tmp_path / "photos" / "a.png", small_photo(24, 32))
    save_image(tmp_path / "results" / "ours" / "a.png", small_photo(24, 32).rotate(180))
    before = digest(tmp_path)
    method = tmp_path / "results" / "ours"
    assert (
        photostyle_status(
            "evaluate", tmp_path / "photos", "--style", style_photo, "-m", method, "-o", tmp_path / "results"
        )
        == 1
    )
    assert "over the ones it reads from" in capsys.readouterr().err and digest(tmp_path) == before


def test_an_image_too_big_for_its_format_is_one_line_naming_a_format_that_holds_it(tmp_path):
    from photostyle.errors import PhotostyleError
    from photostyle.images import write_photo

    for name, side, limit in (("tall.jpg", 65_600, 65_500), ("wide.webp", 16_400, 16_383)):
        shape = (side, 1, 3) if name.startswith("tall") else (1, side, 3)
        with pytest.raises(PhotostyleError, match=f"holds at most {limit} pixels a side .*; write it as .png"):
            write_photo(tmp_path / name, np.zeros(shape, np.uint8))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("message", ["", "  \n  "])
def test_a_library_error_that_says_nothing_is_reported_by_its_type(message, tiny_model, tmp_path, monkeypatch):
    """onnxruntime and torch.load raise errors whose message may be empty: the one line names the
    error's type instead (it once took the first line of nothing: an IndexError traceback)."""
    import onnxruntime
    import torch

    from photostyle.errors import PhotostyleError
    from photostyle.inference.runtime import StyleModel
    from photostyle.training.checkpoints import load_checkpoint

    class SaysNothing(Exception):
        pass

    def refuse(*args, **kwargs):
        raise SaysNothing(message)

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    with pytest.raises(PhotostyleError, match=r"is not a loadable ONNX model \(SaysNothing\)"):
        StyleModel(tiny_model)
    checkpoint = tmp_path / "run.ckpt"
    checkpoint.write_bytes(b"weights")
    monkeypatch.setattr(torch, "load", refuse)
    with pytest.raises(PhotostyleError, match=r"not a safe, readable training checkpoint \(SaysNothing\)"):
        load_checkpoint(checkpoint)
