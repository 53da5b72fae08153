"""Bad values, checkpoints and files for training, export and the per-image optimisation,
through train.py, export.py and `photostyle optimize`: each gets one line naming the
problem, no traceback, and leaves no partial output behind. A few cases of each table run
the entry point's own process; the rest call its main in this process (bad_inputs.refusal_line).
"""

import os
import resource
from pathlib import Path

import onnx
import pytest
import torch
from bad_inputs import (
    BOUND_BY_PERMISSIONS,
    clean_failure,
    digest,
    made,
    needs_file_permissions,
    no_leftovers,
    refusal_line,
    save_image,
    script_main,
    small_photo,
    written,
)
from PIL import Image

from benchmarks.common import compose_config
from photostyle.errors import PhotostyleError
from photostyle.files import unwritable_reason

from conftest import PHOTOSTYLE, PYTHON, TINY, run, save_photo

TRAIN_MISTAKES = {
    "negative steps": (["trainer.max_steps=-5"], "max_steps"),
    "unknown model": (["model=nonexistent"], "'model/nonexistent'; choose one of: bilateral, residual"),
    "missing style image": (["style.image=/nowhere/style.jpg"], "/nowhere/style.jpg: no such file"),
    "corrupt style image": (["style.image={bad}"], "bad.jpg"),
    "empty data folder": (["data.root={empty}"], "no photos"),
    "data folder missing": (["data.root=/nowhere/photos"], "data.root=/nowhere/photos does not exist"),
    "zero batch": (["data.batch_size=0"], "batch_size"),
    "negative photoreal weight": (["loss.photoreal_weight=-1"], "photoreal_weight"),
    "unknown VGG layer": (["loss.content_layers=[relu9_9]"], "relu9_9"),
    "unknown key added": (["+loss.style_wieght=1"], "loss.style_wieght is not a setting of"),
    "unknown key": (["loss.style_wieght=1"], "Could not override 'loss.style_wieght'"),
    "unknown option's key": (["model=bilateral", "model.grid_size=9"], "Could not override 'model.grid_size'"),
    "override without a value": (["style.image"], "Error parsing override 'style.image'"),
    "a group set to null": (["logger=null"], "to leave a group out, write ~GROUP, e.g. ~logger"),
    "negative colour weight": (["loss.colour_weight=-1"], "colour_weight"),
    "no colour directions": (["loss.colour_directions=0"], "colour_directions=0"),
    "resume a run that has no checkpoint": (["ckpt_path=last"], "hydra.run.dir="),
    "thumbnail off the grid": (["model=bilateral", "model.thumbnail_size=100"], "thumbnail_size=100"),
    "style colours out of range": (["model=bilateral", "model.style_colours=1.5"], "style_colours=1.5"),
    "content colours out of range": (["loss.content_colours=-1"], "content_colours=-1"),
    "no end to the schedule": (["trainer.max_steps=-1"], "trainer.max_steps=-1"),
    "zero matting epsilon": (["loss.matting_eps=0"], "matting_eps=0"),
    "negative style size": (["style.size=-1"], "style.size=-1"),
    "zero thumbnail": (["model=bilateral", "model.thumbnail_size=0"], "thumbnail_size=0"),
    "zero thumbnail samples": (["model=bilateral", "model.thumbnail_samples=0"], "thumbnail_samples=0"),
    "zero tone bins": (["model=bilateral", "model.grid_depth=0"], "grid_depth=0"),
    "crop too small for the VGG loss": (
        ["data.crop_size=4", "loss.content_layers=[relu4_1]"],
        "data.crop_size=4 is too small for the VGG layers up to relu4_1 (at least 8)",
    ),
    "zero crop": (["data.crop_size=0"], "data.crop_size=0 must be a positive whole number"),
    "only unreadable photos": (["data.root={unreadable}"], "no training photo of data.root"),
    "crop size not a number": (["data.crop_size=abc"], "data.crop_size='abc' must be a whole number"),
    "fractional batch": (["data.batch_size=1.5"], "data.batch_size=1.5 must be a whole number"),
    "learning rate not a number": (["optimizer.lr=fast"], "optimizer.lr='fast' must be a number"),
    "steps not a number": (["trainer.max_steps=many"], "trainer.max_steps='many' must be a whole number"),
    "seed not a number": (["seed=abc"], "seed='abc'"),
    "layer names not texts": (["loss.content_layers=[1]"], "loss.content_layers=[1] must be a list of texts"),
    "unknown precision": (["trainer.precision=banana"], "trainer.precision='banana' must be one of"),
    "negative style layer weight": (["loss.style_layers.relu1_1=-1"], "loss.style_layers.relu1_1=-1"),
    "negative learning rate": (["optimizer.lr=-1"], "optimizer.lr=-1 must be > 0"),
    "photos loaded smaller than the crop": (["data.load_size=16"], "data.load_size=16 must be at least data.crop_size"),
    "validation every 0 steps": (["trainer.val_check_interval=0"], "+trainer.limit_val_batches=0"),
    "one photo as the data folder": (["data.root={bad}"], "is a photo or other binary file"),
    "style photo too small for the VGG": (
        ["style.image={tiny}", "+loss.style_layers.relu4_1=1.0"],
        "style photo is 4x3 pixels as loaded, too small",
    ),
    "validation every half epoch of a one-epoch run": (["trainer.val_check_interval=0.5"], "a whole number of steps"),
    "style layer weight not a number": (["loss.style_layers.relu1_1=abc"], "loss.style_layers.relu1_1='abc' must be"),
    "style size not a number, named where it is set": (["style.size=abc"], "style.size='abc' must be a whole number"),
    "a number for a folder": (["data.root=2024"], """(quote it: "data.root='2024'")"""),
    "crop too small for relu5_1": (
        ["data.crop_size=12", "style.size=64", "+loss.style_layers.relu5_1=1.0"],
        "data.crop_size=12 is too small for the VGG layers up to relu5_1",
    ),
    "seed out of numpy's range": (["seed=-1"], "seed=-1 must be a whole number from 0 to 4294967295"),
    "a schedule of no steps": (["scheduler.T_max=0"], "scheduler.T_max=0 must be at least 1 step"),
    "gradients accumulated over no batch": (["+trainer.accumulate_grad_batches=0"], "accumulate_grad_batches=0"),
    "a value the optimiser refuses": (["+optimizer.weight_decay=-1"], "optimizer: Invalid weight_decay value: -1"),
    "a value Lightning's trainer refuses": (["trainer.devices=0"], "trainer: `Trainer(devices=0)`"),
    "a duration that is not one": (["+trainer.max_time=abc"], "trainer: `Timer(duration='abc')`"),
    "a value a callback refuses": (["callbacks.last.every_n_train_steps=-1"], "callbacks: Invalid value"),
    "an empty data folder name": (["data.root="], "data.root is empty"),
    "every photo held out for validation": (["data.val_fraction=0.95"], "data.val_fraction=0.95 leaves none"),
    "a photo as the VGG weights": (
        ["loss.vgg_weights={tiny}"],
        "tiny.png is not a torch state dict (not a torch file)",
    ),
    "VGG weights cut short": (
        ["loss.vgg_weights={cut}"],
        "cut.pth is not a torch state dict (the file is cut short or damaged; copy it again)",
    ),
    **(
        {}
        if torch.cuda.is_available() or torch.backends.mps.is_available()
        else {"hardware=gpu with no GPU": (["hardware=gpu"], "hardware=gpu: no GPU is visible")}
    ),
}


# Refused by Hydra (while it composes the config, or reporting a framework's own error), or
# checked once through the real process: these run train.py as a user does. The others call
# train.py's main() on the composed config in this process: the same code, without starting a
# process for each.
THROUGH_THE_PROCESS = {
    "unknown model",
    "unknown key",
    "unknown option's key",
    "override without a value",
    "a group set to null",
    "negative steps",
    "negative photoreal weight",
    "crop size not a number",
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    """The files and folders TRAIN_MISTAKES name in braces, made once: no case changes them."""
    folder = tmp_path_factory.mktemp("bad_files")
    (folder / "empty").mkdir()
    (folder / "bad.jpg").write_bytes(b"\xff\xd8 broken")
    save_photo(folder / "tiny.png", 3, 4)
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, folder / "whole.pth")
    (folder / "cut.pth").write_bytes((folder / "whole.pth").read_bytes()[:-100])
    (folder / "unreadable").mkdir()
    for name in ("a.jpg", "b.png"):
        (folder / "unreadable" / name).write_bytes(b"\xff\xd8 broken")
    names = {"bad": "bad.jpg", "empty": "empty", "unreadable": "unreadable", "tiny": "tiny.png", "cut": "cut.pth"}
    return {name: folder / file for name, file in names.items()}


def _train_overrides(case: str, photo_folder: Path, style_photo: Path, bad_files: dict[str, Path]) -> list[str]:
    overrides = [o.format(**bad_files) for o in TRAIN_MISTAKES[case][0]]
    # A case that picks its own network leaves out the tiny residual network's settings.
    tiny = [o for o in TINY if not o.startswith("model")] if any(o.startswith("model=") for o in overrides) else TINY
    return [f"data.root={photo_folder}", f"style.image={style_photo}", *tiny, "trainer.max_steps=1", *overrides]


def _composed(overrides: list[str], tmp_path: Path):
    """The config train.py would get for these overrides, run into tmp_path/run."""
    return compose_config(*overrides, "logger=csv", f"run_dir={tmp_path / 'run'}")


@pytest.fixture(scope="module")
def train_main():
    return script_main("train")


@pytest.fixture(scope="module")
def export_main():
    return script_main("export")


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(THROUGH_THE_PROCESS))
def test_train_refuses_bad_values_in_one_line(case, photo_folder, style_photo, bad_files, tmp_path):
    overrides = _train_overrides(case, photo_folder, style_photo, bad_files)
    result = run(PYTHON, "train.py", *overrides, f"hydra.run.dir={tmp_path / 'run'}")
    assert clean_failure(result, TRAIN_MISTAKES[case][1]), result.stderr[-2000:]
    # Refused before training starts: the refusal is all there is, but for Lightning's notice of the seed.
    said = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("Seed set to")]
    assert len(said) == 1 and said[0].startswith("train.py: error: "), result.stderr[-2000:]
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(set(TRAIN_MISTAKES) - THROUGH_THE_PROCESS))
def test_train_refuses_each_bad_value(case, photo_folder, style_photo, bad_files, tmp_path, train_main, capsys):
    overrides = _train_overrides(case, photo_folder, style_photo, bad_files)
    cfg = _composed(overrides, tmp_path)
    line = refusal_line(lambda: train_main(cfg), capsys)
    assert line.startswith("train.py: error: ") and TRAIN_MISTAKES[case][1] in line
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_a_ctrl_c_lightning_handles_itself_ends_in_one_line_and_status_130(
    photo_folder, style_photo, tmp_path, train_main, capsys
):
    # Lightning ends it with its own message and status 1; train.py says it was an interruption.
    overrides = [
        f"data.root={photo_folder}",
        f"style.image={style_photo}",
        *TINY,
        "+callbacks.ctrl_c._target_=bad_inputs.CtrlCInTheFirstStep",
    ]
    cfg = _composed(overrides, tmp_path)
    with pytest.raises(SystemExit) as stopped:
        train_main(cfg)
    assert stopped.value.code == 130
    assert capsys.readouterr().err.rstrip().splitlines()[-1] == "train.py: interrupted"


@pytest.mark.parametrize("script", ["train.py", "export.py"])
def test_a_ctrl_c_while_the_script_imports_ends_in_one_line_and_status_130(script, tmp_path):
    # The Ctrl-C lands inside the imports, at a fixed point: a stand-in for hydra, the first
    # heavy import of both scripts, sends it while it loads.
    stand_in = tmp_path / "hydra"
    stand_in.mkdir()
    (stand_in / "__init__.py").write_text(
        "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)\n"
    )
    result = run(PYTHON, script, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert (result.returncode, result.stderr) == (130, f"{script}: interrupted\n")


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


def _edited(change):
    """A maker of a trained checkpoint's copy with change(saved, folder) applied."""

    def make(checkpoint: Path, path: Path) -> None:
        import torch

        saved = torch.load(checkpoint, weights_only=True)
        change(saved, path.parent)
        torch.save(saved, path)

    return make


def _network(config):
    def change(saved: dict, folder: Path) -> None:
        saved["hyper_parameters"]["model"] = config(folder) if callable(config) else config

    return _edited(change)


def _nan_weights(saved: dict, folder: Path) -> None:
    for value in saved["state_dict"].values():
        if value.is_floating_point():
            value.fill_(float("nan"))


def _crafted_pickle(checkpoint: Path, path: Path) -> None:
    """A checkpoint as torch saves one, with an object that runs code when unpickled."""
    torch.save({"state_dict": _Pickled(), "hyper_parameters": {"model": {}}}, path)


def _bare_pickle(checkpoint: Path, path: Path) -> None:
    """The same as a plain pickle, not torch's zip format."""
    import pickle

    path.write_bytes(pickle.dumps({"state_dict": _Pickled(), "hyper_parameters": {"model": {}}}))


EXPORT_MISTAKES = {
    "missing checkpoint": (lambda ckpt, folder: folder / "none.ckpt", "none.ckpt"),
    "not a checkpoint": (
        lambda ckpt, folder: written(folder / "x.ckpt", b"not a checkpoint"),
        "x.ckpt is not a safe, readable training checkpoint (not a torch file)",
    ),
    "truncated checkpoint": (
        lambda ckpt, folder: written(folder / "cut.ckpt", ckpt.read_bytes()[:2000]),
        "cut.ckpt is not a safe, readable training checkpoint (the file is cut short or damaged; copy it again)",
    ),
    "empty checkpoint": (
        lambda ckpt, folder: written(folder / "empty.ckpt", b""),
        "empty.ckpt is not a safe, readable training checkpoint (the file is empty)",
    ),
    "crafted pickle": (
        lambda ckpt, folder: made(folder / "evil.ckpt", lambda p: _crafted_pickle(ckpt, p)),
        "not a safe, readable training checkpoint (it holds pickled objects other than tensors and plain data)",
    ),
    "bare pickle": (
        lambda ckpt, folder: made(folder / "bare.ckpt", lambda p: _bare_pickle(ckpt, p)),
        "bare.ckpt is not a safe, readable training checkpoint (not a torch file)",
    ),
    "another network's config": (
        lambda ckpt, folder: made(
            folder / "other.ckpt",
            lambda p: _network({"_target_": "photostyle.networks.bilateral.BilateralNet"})(ckpt, p),
        ),
        "do not fit",
    ),
    "a callable the config names": (
        lambda ckpt, folder: made(
            folder / "call.ckpt",
            lambda p: _network(lambda f: {"_target_": "pathlib.Path.mkdir", "_args_": [str(f / "made_by_it")]})(
                ckpt, p
            ),
        ),
        "not one of photostyle's",
    ),
    "a foreign checkpoint": (
        lambda ckpt, folder: made(folder / "foreign.ckpt", lambda p: _network("resnet18")(ckpt, p)),
        "not one of photostyle's",
    ),
    "NaN weights": (
        lambda ckpt, folder: made(folder / "nan.ckpt", lambda p: _edited(_nan_weights)(ckpt, p)),
        "NaN or infinite weights",
    ),
    "a photo": (
        lambda ckpt, folder: made(folder / "photo.ckpt", lambda p: save_image(p, small_photo(8, 8), format="PNG")),
        "photo.ckpt",
    ),
}


def test_export_refuses_a_misspelt_setting_in_one_line(tmp_path):
    result = run(PYTHON, "export.py", "chkpt=run/last.ckpt", f"out={tmp_path / 'm.onnx'}")
    assert result.returncode == 2 and result.stderr.splitlines() == [
        "export.py: error: Could not override 'chkpt' (Key 'chkpt' is not in struct); to append to your config use"
        " +chkpt=run/last.ckpt; python export.py --cfg job lists every key"
    ]
    assert not (tmp_path / "m.onnx").exists()


# Run through export.py's own process, to show the entry point's one line; the rest in this process.
EXPORT_THROUGH_THE_PROCESS = {"not a checkpoint", "truncated checkpoint", "crafted pickle", "bare pickle"}


@pytest.mark.slow
@pytest.mark.parametrize("case", EXPORT_MISTAKES)
def test_export_refuses_each_bad_checkpoint(case, trained_checkpoint, tmp_path, export_main, capsys):
    make, named = EXPORT_MISTAKES[case]
    checkpoint = make(trained_checkpoint, tmp_path)
    overrides = [f"ckpt={checkpoint}", f"out={tmp_path / 'm.onnx'}"]
    if case in EXPORT_THROUGH_THE_PROCESS:
        result = run(PYTHON, "export.py", *overrides)
        assert clean_failure(result, named) and len(result.stderr.splitlines()) == 1, result.stderr[-2000:]
        assert "code ran while loading" not in result.stdout + result.stderr
    else:
        line = refusal_line(lambda: export_main(compose_config(*overrides, config_name="export")), capsys)
        assert line.startswith("export.py: error: ") and named in line
    assert not (tmp_path / "made_by_it").exists()
    assert not (tmp_path / "m.onnx").exists() and no_leftovers(tmp_path)


@pytest.mark.slow
@needs_file_permissions
def test_export_says_a_checkpoint_it_may_not_read_is_a_matter_of_permissions(tmp_path):
    # The words photos and videos use for the same mistake: not "not a checkpoint", whose fix is another file.
    locked = tmp_path / "locked.ckpt"
    torch.save({"state_dict": {}}, locked)
    locked.chmod(0)
    result = run(PYTHON, "export.py", f"ckpt={locked}", f"out={tmp_path / 'm.onnx'}", limit=BOUND_BY_PERMISSIONS)
    refusal = "locked.ckpt cannot be read (permission denied); fix its permissions"
    assert clean_failure(result, refusal), result.stderr[-2000:]
    assert not (tmp_path / "m.onnx").exists()


def _refused_export(export_main, capsys, *overrides: str) -> str:
    """export.py's one error line for these overrides, run in this process."""
    line = refusal_line(lambda: export_main(compose_config(*overrides, config_name="export")), capsys)
    assert line.startswith("export.py: error: ")
    return line


@pytest.mark.slow
@pytest.mark.parametrize(
    "setting, named",
    [
        ("overwrite=no", "overwrite=no must be true or false"),  # once a truthy string: it replaced the file
        ("check_sizes=[]", "check_sizes=[]"),  # once: written unchecked
        ("check_sizes=[[0,0]]", "check_sizes=[[0, 0]]"),
        ("opset=abc", "opset=abc"),
        ("tolerance=abc", "tolerance=abc"),
        ("opset=17", "exports as opset 18"),  # once reported as written with opset 17
    ],
)
def test_export_refuses_each_bad_setting(setting, named, trained_checkpoint, tmp_path, export_main, capsys):
    out = written(tmp_path / "m.onnx", b"keep me")
    replace = [] if setting.startswith("overwrite=") else ["overwrite=true"]  # so that the setting is what stops it
    assert named in _refused_export(export_main, capsys, f"ckpt={trained_checkpoint}", f"out={out}", setting, *replace)
    assert out.read_bytes() == b"keep me" and no_leftovers(tmp_path)


@pytest.mark.slow
def test_export_output_mistakes(trained_checkpoint, tmp_path, record_property, export_main, capsys):
    def refused(out: Path, *overrides: str) -> str:
        return _refused_export(export_main, capsys, f"ckpt={trained_checkpoint}", f"out={out}", *overrides)

    out = tmp_path / "m.onnx"
    assert "is a folder" in refused(tmp_path)
    (tmp_path / "a_file").write_text("keep me")
    assert "a_file is a file; choose another out=" in refused(tmp_path / "a_file" / "m.onnx")
    out.write_bytes(b"keep me")
    assert "overwrite=true" in refused(out)
    assert out.read_bytes() == b"keep me"
    # A model that fails the onnxruntime check replaces nothing (a tolerance below zero fails every export).
    # The limit it names is the one it applied: uint8 pixels allow a level's rounding on top.
    failed_check = refused(out, "overwrite=true", "tolerance=-1")
    assert "(> -9.96e-01)" in failed_check and "was not written" in failed_check
    assert out.read_bytes() == b"keep me" and no_leftovers(tmp_path)
    export_main(compose_config(f"ckpt={trained_checkpoint}", f"out={out}", "overwrite=true", config_name="export"))
    assert onnx.load(str(out)).graph.node and no_leftovers(tmp_path)  # the model replaced the old file
    record_property("cases", 4)  # a missing folder of out=, which export makes: test_end_to_end


@pytest.mark.slow
def test_export_never_writes_over_the_checkpoint_it_exports(trained_checkpoint, tmp_path):
    checkpoint = tmp_path / "copy.ckpt"
    checkpoint.write_bytes(trained_checkpoint.read_bytes())
    before = digest(tmp_path)
    result = run(PYTHON, "export.py", f"ckpt={checkpoint}", f"out={checkpoint}", "overwrite=true")
    assert clean_failure(result, "is the checkpoint being exported"), result.stderr[-2000:]
    assert digest(tmp_path) == before


@pytest.mark.slow
def test_a_write_the_file_system_refuses_is_one_line_for_training_and_export(
    trained_checkpoint, photo_folder, style_photo, tmp_path
):
    def files_of_at_most(size_kb: int):  # the shell's ulimit -f: a bigger write fails with EFBIG
        return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size_kb * 1024, resource.RLIM_INFINITY))

    run_dir = tmp_path / "run"
    overrides = [f"data.root={photo_folder}", f"style.image={style_photo}", *TINY, "logger=csv"]
    result = run(
        PYTHON, "train.py", *overrides, "trainer.max_steps=2", f"hydra.run.dir={run_dir}", limit=files_of_at_most(50)
    )
    assert clean_failure(result, "cannot write", "File too large"), result.stderr[-2000:]
    assert list((run_dir / "checkpoints").iterdir()) == []  # no half-written checkpoint either
    out = tmp_path / "m.onnx"
    result = run(PYTHON, "export.py", f"ckpt={trained_checkpoint}", f"out={out}", limit=files_of_at_most(10))
    assert clean_failure(result, f"cannot write {out} (File too large)"), result.stderr[-2000:]
    assert not out.exists() and no_leftovers(tmp_path)


@pytest.mark.slow
def test_a_run_folder_hydra_cannot_make_is_one_line(photo_folder, style_photo, tmp_path):
    (tmp_path / "a_file").write_text("keep me")
    overrides = [f"data.root={photo_folder}", f"style.image={style_photo}", *TINY, "logger=csv"]
    result = run(PYTHON, "train.py", *overrides, f"hydra.run.dir={tmp_path / 'a_file' / 'run'}")
    assert clean_failure(result, f"{tmp_path / 'a_file'} is a file"), result.stderr[-2000:]
    assert (tmp_path / "a_file").read_text() == "keep me"
    assert unwritable_reason(tmp_path / "new" / "run") == "" and not (tmp_path / "new").exists()  # nothing made


def test_only_torch_and_lightning_refusals_become_one_line_and_photostyle_bugs_stay_tracebacks():
    from photostyle.training.framework_checks import built
    from photostyle.training.matting import matting_laplacian_energy

    with pytest.raises(PhotostyleError, match=r"^optimizer: Invalid learning rate: -1; check the optimizer"):
        built("optimizer", lambda: torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=-1))
    with pytest.raises(AttributeError):  # a typo in our code is not the user's to fix
        built("callbacks", lambda: object().previous)
    with pytest.raises(ValueError):  # nor a ValueError raised in photostyle's own code
        built("callbacks", lambda: matting_laplacian_energy(torch.zeros(1, 3, 4, 4), torch.zeros(2, 3, 4, 4)))


@pytest.mark.slow
def test_a_checkpoint_from_elsewhere_does_not_resume_into_another_runs_folder(trained_checkpoint, tmp_path):
    trained = trained_checkpoint.parents[1]
    other_run = tmp_path / "other_run"
    (other_run / "checkpoints").mkdir(parents=True)
    (other_run / "checkpoints" / "last.ckpt").write_bytes(b"another run's weights")
    overrides = [f"data.root={trained.parent / 'photos'}", f"style.image={trained.parent / 'style.png'}", *TINY]
    resume = ["trainer.max_steps=2", "logger=csv", f"hydra.run.dir={other_run}", f"ckpt_path={trained_checkpoint}"]
    result = run(PYTHON, "train.py", *overrides, *resume)
    assert clean_failure(result, "already holds a run's checkpoints"), result.stderr[-2000:]
    assert (other_run / "checkpoints" / "last.ckpt").read_bytes() == b"another run's weights"


@pytest.mark.slow
def test_resuming_from_best_goes_on_writing_last_ckpt(photo_folder, style_photo, tmp_path):
    # best.ckpt holds no last checkpoint's path, so Lightning once wrote last-v1.ckpt beside the
    # old last.ckpt, which ckpt_path=last would then resume.
    run_dir = tmp_path / "run"
    common = [f"data.root={photo_folder}", f"style.image={style_photo}", *TINY, "logger=csv", "scheduler=null"]
    first = run(PYTHON, "train.py", *common, "trainer.max_steps=2", f"hydra.run.dir={run_dir}")
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = run(PYTHON, "train.py", *common, "trainer.max_steps=4", f"hydra.run.dir={run_dir}", "ckpt_path=best")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 4


@pytest.mark.slow
def test_a_run_names_the_checkpoints_it_wrote_and_a_new_run_refuses_its_folder(photo_folder, style_photo, tmp_path):
    run_dir = tmp_path / "run"
    common = [f"data.root={photo_folder}", f"style.image={style_photo}", *TINY, "logger=csv"]
    # Validation every 5 steps, so 3 steps write no best.ckpt (which train.py once named all the same).
    steps = ["trainer.max_steps=3", "trainer.val_check_interval=5", f"hydra.run.dir={run_dir}"]
    first = run(PYTHON, "train.py", *common, *steps)
    assert first.returncode == 0, first.stderr[-2000:]
    assert f"last checkpoint: {run_dir / 'checkpoints' / 'last.ckpt'}" in first.stdout
    assert "best checkpoint: none (no validation ran" in first.stdout
    # A second run into the same folder once wrote last-v1.ckpt beside the first run's last.ckpt.
    second = run(PYTHON, "train.py", *common, *steps)
    assert clean_failure(second, "already holds a run's checkpoints", "ckpt_path=last"), second.stderr[-2000:]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["last.ckpt"]


@pytest.mark.slow
def test_training_resumes_only_from_a_safe_checkpoint(trained_checkpoint, photo_folder, style_photo, tmp_path):
    evil = made(tmp_path / "evil.ckpt", lambda p: _crafted_pickle(trained_checkpoint, p))
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
@pytest.mark.parametrize(
    "changes, named",
    [
        (["data.crop_size=48", "trainer.max_steps=2"], "data.crop_size=48 (was 32)"),
        # The default cosine schedule runs over max_steps: more steps would be another schedule.
        (["trainer.max_steps=3"], "scheduler.T_max=3 (was 2)"),
    ],
    ids=["other crops", "more steps under a cosine"],
)
def test_training_resumes_only_with_its_own_settings(trained_checkpoint, tmp_path, changes, named):
    folder = trained_checkpoint.parents[2]
    result = run(
        PYTHON,
        "train.py",
        f"data.root={folder / 'photos'}",
        f"style.image={folder / 'style.png'}",
        *TINY,
        *changes,
        "logger=csv",
        f"ckpt_path={trained_checkpoint}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert clean_failure(result, named, "overrides"), result.stderr[-2000:]
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
    "a grid of one knot": (["{content}", "{style}", "-o", "{out}", "--grid", "1"], "at least 2"),
    "a photo taken for the grid's knots": (["--grid", "{content}", "{style}", "-o", "{out}"], "after the photos"),
    "smoothing a grid's result": (["{content}", "{style}", "-o", "{out}", "--grid", "--post"], "needs none"),
    "a start model that is missing": (
        ["{content}", "{style}", "-o", "{out}", "--model", "{folder}/no.onnx"],
        "no.onnx",
    ),
    "a start model with no look": (["{content}", "{style}", "-o", "{out}", "--model", "{model}"], "no look"),
    "a start model of other knots": (["{content}", "{style}", "-o", "{out}", "--model", "{look_model}"], "--grid"),
}


# Run through the photostyle command's own process; the rest in this process.
OPTIMIZE_THROUGH_THE_PROCESS = {"missing style", "corrupt content"}


@pytest.mark.slow
@pytest.mark.parametrize("case", OPTIMIZE_MISTAKES)
def test_optimize_refuses_each_mistake(case, style_photo, tmp_path, tiny_model, tiny_look_model, capsys):
    content = tmp_path / "content.png"
    save_image(content, small_photo(12, 14))
    save_image(tmp_path / "black.png", Image.new("RGB", (14, 12)))
    save_image(tmp_path / "white.png", Image.new("RGB", (14, 12), "white"))
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 broken")
    save_photo(tmp_path / "tiny.png", 3, 4)
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
        model=tiny_model,
        look_model=tiny_look_model,  # 2x2 knots: --model alone asks for 9
    )
    argv = ["optimize", *(a.format(**names) for a in args), "--steps" if "--steps" not in args else "--seed", "1"]
    if case in OPTIMIZE_THROUGH_THE_PROCESS:
        result = run(PHOTOSTYLE, *argv)
        assert clean_failure(result, named), result.stderr[-2000:]
    else:
        from photostyle.cli import main

        assert named in refusal_line(lambda: main(argv), capsys)
    assert digest(tmp_path) == before and no_leftovers(tmp_path)


def test_a_ctrl_c_that_a_framework_turned_into_another_error_is_still_an_interruption(capsys):
    # A Ctrl-C inside one of torch's lazy imports came back as a TorchExportError raised while handling it.
    from photostyle.errors import exit_on_user_error

    with pytest.raises(SystemExit) as stopped, exit_on_user_error("export.py"):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("the exporter failed") from None  # from None: the interrupt is only its context
    assert (stopped.value.code, capsys.readouterr().err) == (130, "export.py: interrupted\n")


def test_a_ctrl_c_the_shell_ignores_stays_ignored():
    # A job started with & from a script ignores SIGINT: the script's Ctrl-C is not the job's.
    import signal

    from photostyle.errors import exit_on_user_error, exit_quietly_on_ctrl_c

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        exit_quietly_on_ctrl_c("train.py")
        with exit_on_user_error("train.py"):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.signal(signal.SIGINT, signal.default_int_handler)
        exit_quietly_on_ctrl_c("train.py")
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler  # set while loading
        with exit_on_user_error("train.py"):
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handed back
    finally:
        signal.signal(signal.SIGINT, previous)
