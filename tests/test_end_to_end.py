"""train.py -> export.py -> photostyle stylize, through the real entry points on tiny inputs."""

import csv
import os

import onnx
import pytest
import torch
from PIL import Image

from conftest import PHOTOSTYLE, PYTHON, TINY, run

# Trains or drives the real entry points for seconds to minutes each.
pytestmark = pytest.mark.slow


def test_train_resume_export_stylize(tmp_path, photo_folder, style_photo):
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB")}  # the default: wandb offline
    run_dir, resumed_dir = tmp_path / "run", tmp_path / "resumed"
    # A constant rate, so that more steps extend the run; a cosine schedule's length is its
    # max_steps, which a resume refuses to change (test_bad_training_inputs).
    common = [f"data.root={photo_folder}", f"style.image={style_photo}", *TINY, "scheduler=null"]

    result = run(PYTHON, "train.py", *common, "trainer.max_steps=4", f"hydra.run.dir={run_dir}", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    last, best = run_dir / "checkpoints" / "last.ckpt", run_dir / "checkpoints" / "best.ckpt"
    assert last.is_file() and best.is_file()
    assert f"last checkpoint: {last}" in result.stdout and f"best checkpoint: {best}" in result.stdout
    assert "Epoch 0" in result.stdout  # Lightning's progress bar
    with open(run_dir / "csv" / "metrics.csv") as stream:
        rows = list(csv.DictReader(stream))
    for column in ("train/loss", "train/content", "train/style", "train/photoreal", "val/loss"):
        assert any(row.get(column) for row in rows), column
    assert sorted(p.name for p in (run_dir / "samples").glob("*.jpg")) == ["step_000002.jpg", "step_000004.jpg"]
    offline_runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(offline_runs) == 1 and list(offline_runs[0].glob("*.wandb"))
    assert (run_dir / ".hydra" / "config.yaml").is_file()

    result = run(
        PYTHON, "train.py", *common, "trainer.max_steps=6", f"ckpt_path={last}", f"hydra.run.dir={resumed_dir}", env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = torch.load(resumed_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 6

    model = tmp_path / "models" / "model.onnx"  # export makes the folder
    result = run(PYTHON, "export.py", f"ckpt={resumed_dir / 'checkpoints' / 'last.ckpt'}", f"out={model}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "max |onnxruntime - PyTorch|" in result.stdout
    difference = float(result.stdout.split("= ")[1].split()[0])
    assert difference <= 1 / 255 + 1e-6  # uint8 pixels: at most one level, where float32 rounding lands next to a half
    metadata = {p.key: p.value for p in onnx.load(str(model)).metadata_props}
    assert metadata["training_steps"] == "6" and metadata["style_image"].startswith("style.jpg sha256:")
    assert '"base_channels": 4' in metadata["network"]
    assert sorted(os.listdir(tmp_path)) == ["models", "photos", "resumed", "run", "style.jpg"]  # no stray files

    result = run(PHOTOSTYLE, "stylize", str(model), str(photo_folder), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr[-3000:]
    for source in photo_folder.rglob("*.*"):
        output = tmp_path / "out" / "photos" / source.relative_to(photo_folder)
        assert Image.open(output).size == Image.open(source).size
