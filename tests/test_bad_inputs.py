"""Every kind of odd or bad input, through the real entry points: `photostyle stylize` and
`evaluate`, the serve API, train.py and export.py.

For each case: a failure exits non-zero with a line that names the problem and no
traceback; an odd but valid photo is stylized at its own size; the inputs are
byte-identical afterwards and no partial output (or temporary file) is left behind.
"""

import gzip
import hashlib
import importlib.util
import io
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from PIL import Image

from conftest import PHOTOSTYLE, PROJECT_ROOT, PYTHON, TINY, run, smooth_photo

AS_ROOT = os.geteuid() == 0  # permissions do not stop root, so those cases cannot fail as root


def _save(path: Path, image: Image.Image, **options) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)


def _photo(height: int, width: int) -> Image.Image:
    return Image.fromarray(smooth_photo(height, width))


def _animated(path: Path) -> None:
    frames = [_photo(20, 24).quantize(), _photo(20, 24).transpose(Image.Transpose.FLIP_LEFT_RIGHT).quantize()]
    _save(path, frames[0], save_all=True, append_images=frames[1:], duration=100, loop=0)


def _exif_rotated(path: Path) -> None:
    image = _photo(20, 30)
    exif = image.getexif()
    exif[0x0112] = 6
    _save(path, image, exif=exif)


def _bomb(path: Path) -> None:
    _save(path, Image.new("1", (30000, 30000)), optimize=True)


def _truncated(path: Path) -> None:
    _save(path, _photo(64, 64))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _sixteen_bit(path: Path) -> None:
    _save(path, Image.fromarray(np.asarray(_photo(16, 18).convert("L"), np.uint16) * 257))


def _fuzzed(number: int):
    """Case `number` of the fuzz test's mutated files: ones that made Pillow raise TypeError, IndexError
    or struct.error, which the image reader once let through (a 500 from the server)."""
    from test_fuzz_images import cases

    return lambda path: path.write_bytes(cases(number + 1, seed=21)[number][1])


def _float_with_nan(path: Path) -> None:
    values = np.linspace(0, 1, 120, dtype=np.float32).reshape(10, 12)
    values[2, :4] = [np.nan, np.inf, -np.inf, 7.0]
    _save(path, Image.fromarray(values))


def _palette_transparent(path: Path) -> None:
    image = _photo(14, 16).quantize(8)
    _save(path, image, transparency=0)


# name -> (file name, how to make it, whether stylize must succeed)
PHOTOS = {
    "zero bytes": ("empty.jpg", lambda p: p.write_bytes(b""), False),
    "truncated jpeg": ("cut.jpg", _truncated, False),
    "truncated png": ("cut.png", _truncated, False),
    "text named .jpg": ("notes.jpg", lambda p: p.write_text("not a photo"), False),
    "html named .png": ("page.png", lambda p: p.write_text("<html></html>"), False),
    "random bytes": ("noise.webp", lambda p: p.write_bytes(os.urandom(500)), False),
    "declared 900 megapixels": ("bomb.png", _bomb, False),
    "cmyk jpeg": ("cmyk.jpg", lambda p: _save(p, _photo(12, 15).convert("CMYK")), True),
    "16-bit png": ("deep.png", _sixteen_bit, True),
    "palette with transparency": ("palette.png", _palette_transparent, True),
    "greyscale + alpha": ("la.png", lambda p: _save(p, _photo(10, 11).convert("LA")), True),
    "rgba": ("rgba.png", lambda p: _save(p, _photo(10, 11).convert("RGBA")), True),
    "1-bit": ("mono.png", lambda p: _save(p, _photo(10, 11).convert("1")), True),
    "1x1": ("dot.png", lambda p: _save(p, _photo(1, 1)), True),
    "1xN": ("line.png", lambda p: _save(p, _photo(1, 37)), True),
    "Nx1": ("column.png", lambda p: _save(p, _photo(29, 1)), True),
    "3x3": ("tiny.png", lambda p: _save(p, _photo(3, 3)), True),
    "odd size": ("odd.jpg", lambda p: _save(p, _photo(17, 31)), True),
    "exif rotated": ("rotated.jpg", _exif_rotated, True),
    "animated gif": ("anim.gif", _animated, True),
    "animated webp": ("anim.webp", _animated, True),
    "bmp": ("old.bmp", lambda p: _save(p, _photo(9, 13)), True),
    "tiff": ("scan.tiff", lambda p: _save(p, _photo(9, 13)), True),
    "non-ascii name": ("ñandú фото.jpg", lambda p: _save(p, _photo(12, 12)), True),
    "spaces in the folder": ("with space/photo one.png", lambda p: _save(p, _photo(12, 12)), True),
    "upper-case suffix": ("LOUD.JPEG", lambda p: _save(p, _photo(12, 12), format="JPEG"), True),
    "gzip named .png": ("packed.png", lambda p: p.write_bytes(gzip.compress(b"x" * 1000)), False),
    "svg named .png": ("drawing.png", lambda p: p.write_text('<svg xmlns="http://www.w3.org/2000/svg"/>'), False),
    "jpeg with trailing bytes": (
        "tail.jpg",
        lambda p: (_save(p, _photo(12, 12)), p.write_bytes(p.read_bytes() + b"junk" * 50)),
        True,
    ),
    "greyscale jpeg": ("grey.jpg", lambda p: _save(p, _photo(12, 13).convert("L")), True),
    "32-bit float tiff": (
        "float.tiff",
        lambda p: _save(p, Image.fromarray(np.linspace(0, 1, 120, dtype=np.float32).reshape(10, 12))),
        True,
    ),
    "float tiff with NaN and infinities": ("nan.tiff", _float_with_nan, True),
    "fuzzed tiff (TypeError in Pillow)": ("fuzzed.tiff", _fuzzed(3907), False),
    "fuzzed gif (IndexError in Pillow)": ("fuzzed.gif", _fuzzed(28), False),
    "fuzzed gif (struct.error in Pillow)": ("fuzzed2.gif", _fuzzed(88), False),
}


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def no_leftovers(folder: Path) -> bool:
    return not any(p.name.endswith(".part") for p in folder.rglob("*")) if folder.exists() else True


def clean_failure(result, *names: str) -> bool:
    return (
        result.returncode != 0
        and "Traceback" not in result.stderr
        and all(name in result.stderr for name in names)
        and len(result.stderr.strip()) > 0
    )


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("odd photos")
    for file_name, make, _ in PHOTOS.values():
        (folder / file_name).parent.mkdir(parents=True, exist_ok=True)
        make(folder / file_name)
    return folder


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
            upright = original.size[::-1] if case == "exif rotated" else original.size
            assert stylized.size == upright
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
        assert Image.open(io.BytesIO(answer.content)).size[0] >= 1
    else:
        assert answer.status_code in (413, 422) and answer.json()["detail"], answer.text


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c, (_, _, valid) in PHOTOS.items() if not valid])
def test_evaluate_each_bad_photo(case, photos, style_photo, tmp_path):
    file_name = PHOTOS[case][0]
    result = run(
        PHOTOSTYLE,
        "evaluate",
        str(photos / file_name),
        "--style",
        str(style_photo),
        "-m",
        "identity",
        "-o",
        str(tmp_path / "e"),
    )
    assert clean_failure(result, Path(file_name).name), result.stderr


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


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _made(path: Path, make) -> Path:
    make(path)
    return path


MODELS = {
    "missing": lambda folder, good: folder / "none.onnx",
    "a folder": lambda folder, good: _made(folder / "dir.onnx", Path.mkdir),
    "zero bytes": lambda folder, good: _written(folder / "empty.onnx", b""),
    "text": lambda folder, good: _written(folder / "text.onnx", b"hello"),
    "truncated": lambda folder, good: _written(folder / "cut.onnx", good.read_bytes()[:3000]),
    "another model": lambda folder, good: _made(folder / "other.onnx", _other_onnx),
    "a photo": lambda folder, good: _made(folder / "photo.onnx", lambda p: _save(p, _photo(8, 8), format="PNG")),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", MODELS)
def test_stylize_and_serve_refuse_each_wrong_model(case, tiny_model, tmp_path):
    model = MODELS[case](tmp_path, tiny_model)
    source = tmp_path / "in" / "p.png"
    _save(source, _photo(10, 10))
    result = run(PHOTOSTYLE, "stylize", str(model), str(source), "-o", str(tmp_path / "out"))
    assert clean_failure(result, model.name), result.stderr
    assert not (tmp_path / "out" / "p.png").exists()
    if case != "missing":
        served = tmp_path / "served"
        served.mkdir()
        if model.is_file():
            shutil.copy(model, served / "x.onnx")
        result = run(PHOTOSTYLE, "serve", str(served))
        assert clean_failure(result), result.stderr


@pytest.mark.parametrize("case", [case for case in MODELS if case != "missing"])
def test_serve_lists_each_wrong_model_beside_a_good_one_as_unavailable(case, tiny_model, tmp_path):
    from photostyle.inference.serve import create_app

    model = MODELS[case](tmp_path, tiny_model)
    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(tiny_model, served / "good.onnx")
    if model.is_file():
        shutil.copy(model, served / "x.onnx")
    else:
        (served / "x.onnx").mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
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
        assert any("x.onnx" in str(warning.message) for warning in caught)
    else:  # a folder named like a model is not a model file at all
        assert "x" not in listed


def _png() -> bytes:
    buffer = io.BytesIO()
    _photo(10, 12).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.slow
def test_output_mistakes(tiny_model, tmp_path, record_property):
    source_dir = tmp_path / "in"
    source = source_dir / "p.png"
    _save(source, _photo(10, 12))
    before = digest(source_dir)
    cases = 0
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
    cases += 7
    if not AS_ROOT:  # permissions: a read-only output folder, an unreadable photo
        (tmp_path / "locked").mkdir(mode=0o500)
        assert clean_failure(
            run(PHOTOSTYLE, "stylize", str(tiny_model), str(source), "-o", str(tmp_path / "locked")), "locked"
        )
        secret = tmp_path / "secret.png"
        _save(secret, _photo(5, 5))
        secret.chmod(0)
        assert clean_failure(
            run(PHOTOSTYLE, "stylize", str(tiny_model), str(secret), "-o", str(tmp_path / "o5")), "permission"
        )
        cases += 2
    assert digest(source_dir) == before and no_leftovers(tmp_path)
    record_property("cases", cases)


TRAIN_MISTAKES = {
    "negative steps": (["trainer.max_steps=-5"], "max_steps"),
    "unknown model": (["model=nonexistent"], "nonexistent"),
    "missing style image": (["style.image=/nowhere/style.jpg"], "style.jpg"),
    "corrupt style image": (["style.image={bad}"], "bad.jpg"),
    "empty data folder": (["data.root={empty}"], "no photos"),
    "data folder missing": (["data.root=/nowhere/photos"], "/nowhere/photos"),
    "zero batch": (["data.batch_size=0"], "batch_size"),
    "negative photoreal weight": (["loss.photoreal_weight=-1"], "photoreal_weight"),
    "unknown VGG layer": (["loss.content_layers=[relu9_9]"], "relu9_9"),
    "unknown key": (["+loss.style_wieght=1"], "style_wieght"),
    "negative colour weight": (["loss.colour_weight=-1"], "colour_weight"),
    "no colour directions": (["loss.colour_directions=0"], "colour_directions=0"),
    "resume a run that has no checkpoint": (["ckpt_path=last"], "hydra.run.dir="),
    "thumbnail off the grid": (["model=bilateral", "model.thumbnail_size=100"], "thumbnail_size=100"),
    "style colours out of range": (["model=bilateral", "model.style_colours=1.5"], "style_colours=1.5"),
    "negative band threshold": (["model=bilateral", "model.banded_from_pixels=-1"], "banded_from_pixels=-1"),
    "content colours out of range": (["loss.content_colours=-1"], "content_colours=-1"),
}


# Refused by Hydra (while it composes the config, or reporting a framework's own error), or
# checked once through the real process: these run train.py as a user does. The others call
# train.py's main() on the composed config in this process: the same code, without starting a
# process for each.
THROUGH_THE_PROCESS = {"unknown model", "unknown key", "negative steps", "negative photoreal weight"}


def _train_overrides(case: str, photo_folder: Path, style_photo: Path, tmp_path: Path) -> list[str]:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 broken")
    overrides, _ = TRAIN_MISTAKES[case]
    overrides = [o.format(bad=tmp_path / "bad.jpg", empty=tmp_path / "empty") for o in overrides]
    # A case that picks its own network leaves out the tiny residual network's settings.
    tiny = [o for o in TINY if not o.startswith("model")] if any(o.startswith("model=") for o in overrides) else TINY
    return [f"data.root={photo_folder}", f"style.image={style_photo}", *tiny, "trainer.max_steps=1", *overrides]


@pytest.fixture(scope="module")
def train_main():
    """train.py's main() as written, without Hydra's command-line wrapper."""
    spec = importlib.util.spec_from_file_location("train_entry_point", PROJECT_ROOT / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main.__wrapped__


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(THROUGH_THE_PROCESS))
def test_train_refuses_bad_values_in_one_line(case, photo_folder, style_photo, tmp_path):
    overrides = _train_overrides(case, photo_folder, style_photo, tmp_path)
    result = run(PYTHON, "train.py", *overrides, f"hydra.run.dir={tmp_path / 'run'}")
    assert clean_failure(result, TRAIN_MISTAKES[case][1]), result.stderr[-2000:]
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(set(TRAIN_MISTAKES) - THROUGH_THE_PROCESS))
def test_train_refuses_each_bad_value(case, photo_folder, style_photo, tmp_path, train_main, capsys):
    overrides = _train_overrides(case, photo_folder, style_photo, tmp_path)
    OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT), replace=True)
    with initialize_config_dir(config_dir=str(PROJECT_ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[*overrides, "logger=csv", f"run_dir={tmp_path / 'run'}"])
    with pytest.raises(SystemExit) as stopped:
        train_main(cfg)
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("train.py: error: ")]
    assert stopped.value.code == 1 and len(errors) == 1 and "Traceback" not in stderr, stderr[-2000:]
    assert TRAIN_MISTAKES[case][1] in errors[0]
    assert not (tmp_path / "run" / "checkpoints").exists()


class _Pickled:
    def __reduce__(self):
        return (print, ("code ran while loading",))


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory, tiny_model) -> Path:
    from conftest import save_photo

    folder = tmp_path_factory.mktemp("trained")
    for seed in range(3):
        save_photo(folder / "photos" / f"{seed}.png", 40, 48, seed)
    save_photo(folder / "style.png", 40, 48, 9)
    result = run(
        PYTHON,
        "train.py",
        f"data.root={folder / 'photos'}",
        f"style.image={folder / 'style.png'}",
        *TINY,
        "trainer.max_steps=2",
        "logger=csv",
        f"hydra.run.dir={folder / 'run'}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return folder / "run" / "checkpoints" / "last.ckpt"


def _other_network(checkpoint: Path, path: Path) -> None:
    import torch

    saved = torch.load(checkpoint, weights_only=True)
    saved["hyper_parameters"]["model"] = {"_target_": "photostyle.networks.bilateral.BilateralNet"}
    torch.save(saved, path)


def _crafted_pickle(checkpoint: Path, path: Path) -> None:
    import pickle

    path.write_bytes(pickle.dumps({"state_dict": _Pickled(), "hyper_parameters": {"model": {}}}))


EXPORT_MISTAKES = {
    "missing checkpoint": (lambda ckpt, folder: folder / "none.ckpt", "none.ckpt"),
    "not a checkpoint": (lambda ckpt, folder: _written(folder / "x.ckpt", b"not a checkpoint"), "x.ckpt"),
    "truncated checkpoint": (lambda ckpt, folder: _written(folder / "cut.ckpt", ckpt.read_bytes()[:2000]), "cut.ckpt"),
    "crafted pickle": (
        lambda ckpt, folder: _made(folder / "evil.ckpt", lambda p: _crafted_pickle(ckpt, p)),
        "not a safe",
    ),
    "another network's config": (
        lambda ckpt, folder: _made(folder / "other.ckpt", lambda p: _other_network(ckpt, p)),
        "do not fit",
    ),
    "a photo": (
        lambda ckpt, folder: _made(folder / "photo.ckpt", lambda p: _save(p, _photo(8, 8), format="PNG")),
        "photo.ckpt",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", EXPORT_MISTAKES)
def test_export_refuses_each_bad_checkpoint(case, trained_checkpoint, tmp_path):
    make, named = EXPORT_MISTAKES[case]
    checkpoint = make(trained_checkpoint, tmp_path)
    result = run(PYTHON, "export.py", f"ckpt={checkpoint}", f"out={tmp_path / 'm.onnx'}")
    assert clean_failure(result, named), result.stderr[-2000:]
    assert "code ran while loading" not in result.stdout + result.stderr
    assert not (tmp_path / "m.onnx").exists() and no_leftovers(tmp_path)


@pytest.mark.slow
def test_export_output_mistakes(trained_checkpoint, tmp_path, record_property):
    out = tmp_path / "m.onnx"
    assert clean_failure(run(PYTHON, "export.py", f"ckpt={trained_checkpoint}", f"out={tmp_path}"), "is a folder")
    assert clean_failure(
        run(PYTHON, "export.py", f"ckpt={trained_checkpoint}", f"out={tmp_path / 'no' / 'm.onnx'}"), "does not exist"
    )
    out.write_bytes(b"keep me")
    assert clean_failure(run(PYTHON, "export.py", f"ckpt={trained_checkpoint}", f"out={out}"), "overwrite=true")
    assert out.read_bytes() == b"keep me"
    assert run(PYTHON, "export.py", f"ckpt={trained_checkpoint}", f"out={out}", "overwrite=true").returncode == 0
    record_property("cases", 3)


@pytest.mark.slow
def test_training_resumes_only_from_a_safe_checkpoint(trained_checkpoint, photo_folder, style_photo, tmp_path):
    evil = _made(tmp_path / "evil.ckpt", lambda p: _crafted_pickle(trained_checkpoint, p))
    result = run(
        PYTHON,
        "train.py",
        f"data.root={photo_folder}",
        f"style.image={style_photo}",
        *TINY,
        "trainer.max_steps=3",
        f"ckpt_path={evil}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert clean_failure(result, "evil.ckpt"), result.stderr[-2000:]
    assert "code ran while loading" not in result.stdout + result.stderr


@pytest.mark.slow
def test_training_resumes_only_with_its_own_settings(trained_checkpoint, tmp_path):
    folder = trained_checkpoint.parents[2]
    result = run(
        PYTHON,
        "train.py",
        f"data.root={folder / 'photos'}",
        f"style.image={folder / 'style.png'}",
        *TINY,
        "data.crop_size=48",
        "trainer.max_steps=3",
        "logger=csv",
        f"ckpt_path={trained_checkpoint}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert clean_failure(result, "data.crop_size=48 (was 32)", "overrides"), result.stderr[-2000:]
    assert not (tmp_path / "run" / "checkpoints").exists()


OPTIMIZE_MISTAKES = {
    "missing style": (["{content}", "{missing}", "-o", "{out}"], "missing.jpg"),
    "corrupt content": (["{bad}", "{style}", "-o", "{out}"], "bad.jpg"),
    "unknown output suffix": (["{content}", "{style}", "-o", "{folder}/result.xyz"], "unknown image suffix"),
    "output is the content": (["{content}", "{style}", "-o", "{content}", "--overwrite"], "overwrite an input"),
    "mask without its pair": (["{content}", "{style}", "-o", "{out}", "--content-mask", "{content}"], "--style-mask"),
    "masks with no shared label": (
        ["{content}", "{style}", "-o", "{out}", "--content-mask", "{black}", "--style-mask", "{white}"],
        "share no label",
    ),
    "zero steps": (["{content}", "{style}", "-o", "{out}", "--steps", "0"], "positive"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", OPTIMIZE_MISTAKES)
def test_optimize_refuses_each_mistake(case, style_photo, tmp_path):
    content = tmp_path / "content.png"
    _save(content, _photo(12, 14))
    _save(tmp_path / "black.png", Image.new("RGB", (14, 12)))
    _save(tmp_path / "white.png", Image.new("RGB", (14, 12), "white"))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 broken")
    before = digest(tmp_path)
    args, named = OPTIMIZE_MISTAKES[case]
    names = dict(
        content=content,
        style=style_photo,
        missing=tmp_path / "missing.jpg",
        bad=tmp_path / "bad.jpg",
        out=tmp_path / "out.png",
        folder=tmp_path,
        black=tmp_path / "black.png",
        white=tmp_path / "white.png",
    )
    result = run(
        PHOTOSTYLE,
        "optimize",
        *(a.format(**names) for a in args),
        "--steps" if "--steps" not in args else "--seed",
        "1",
    )
    assert clean_failure(result, named), result.stderr[-2000:]
    assert digest(tmp_path) == before and no_leftovers(tmp_path)
