"""What the benchmark scripts share: training, exporting and stylizing through the real entry points."""

import subprocess
import sys
from pathlib import Path

import torch

from photostyle.images import read_photo

ROOT = Path(__file__).resolve().parent.parent


def tensor(path: Path, max_side: int | None = None) -> torch.Tensor:
    """A photo as a (1, 3, H, W) tensor in [0, 1]."""
    return torch.from_numpy(read_photo(path, max_side=max_side).rgb).permute(2, 0, 1)[None]


def train_and_export(run_dir: Path, overrides: list[str]) -> Path:
    """train.py into run_dir with the given overrides (CSV logging only), then export.py; the model's path."""
    subprocess.run([sys.executable, "train.py", "logger=csv", f"hydra.run.dir={run_dir}", *overrides], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    model = run_dir / "model.onnx"
    subprocess.run([sys.executable, "export.py", f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", f"out={model}"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return model


def photostyle(*args: str | Path) -> None:
    """The `photostyle` command, quietly (through the interpreter, so no installed script is needed)."""
    subprocess.run([sys.executable, "-m", "photostyle", *args], check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def stylize(model: Path, inputs: list[Path], output: Path, *options: str) -> None:
    photostyle("stylize", model, *inputs, "-o", output, "--overwrite", *options)
