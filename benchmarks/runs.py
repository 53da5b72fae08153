"""What the benchmark scripts share: the bench pairs and the methods compared on them; training, exporting and
stylizing through the real entry points."""

import csv
import subprocess
import sys
from pathlib import Path

from photostyle.evaluation.baselines import BASELINES
from photostyle.evaluation.evaluate import Method, markdown
from photostyle.evaluation.masks import read_labels, shared_masks
from photostyle.evaluation.optimize import optimize_photo
from photostyle.settings import OptimizeSettings
from photostyle.training.loss import PhotorealStyleLoss
from photostyle.training.tensors import load

ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = ROOT.parent / "shared" / "bench"
# The bench pairs every method is compared on, chosen up front: a spread of the three sets
# (landscapes, cities, buildings; day to night, season and colour-grade changes).
BENCH_PAIRS = ["stylenas/1", "stylenas/4", "stylenas/12", "photowct2/0", "photowct2/3", "dpst/2", "dpst/5", "dpst/9"]


def read_pairs(bench: Path) -> dict[str, dict[str, str]]:
    """The rows of bench/pairs.csv by "SET/ID"; exits with one line when the bench is absent."""
    if not (bench / "pairs.csv").is_file():
        raise SystemExit(f"{bench / 'pairs.csv'} not found: this benchmark needs the shared bench photos (--bench)")
    with open(bench / "pairs.csv") as file:
        return {f"{row['set']}/{row['id']}": row for row in csv.DictReader(file)}


def train_and_export(run_dir: Path, overrides: list[str]) -> Path:
    """train.py into run_dir with the given overrides (CSV logging only), then export.py; the model's path."""
    subprocess.run([sys.executable, "train.py", "logger=csv", f"hydra.run.dir={run_dir}", *overrides], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    model = run_dir / "model.onnx"
    subprocess.run([sys.executable, "export.py", f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}", f"out={model}", "overwrite=true"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return model


def photostyle(*args: str | Path) -> None:
    """The `photostyle` command, quietly (through the interpreter, so no installed script is needed)."""
    subprocess.run([sys.executable, "-m", "photostyle", *args], check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def stylize(model: Path, inputs: list[Path], output: Path, *options: str) -> None:
    photostyle("stylize", model, *inputs, "-o", output, "--overwrite", *options)


def per_pair_markdown(rows: list[dict]) -> str:
    """One Markdown row per (pair, method) of evaluate_photo rows that carry a "pair" key."""
    lines = ["| pair | method | style distance | colour distance | SSIM | affine residual | s / photo |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        cells = markdown([{**row, "photos": 1}]).splitlines()[-1].split(" | ")[2:]  # the metric cells
        lines.append(f"| {row['pair']} | {row['method']} | " + " | ".join(cells))
    return "\n".join(lines) + "\n"


def pair_methods(pair: dict[str, str], bench: Path, settings: OptimizeSettings | None = None) -> list[Method]:
    """The baselines, `optimize` (with settings; the pair's masks where it has them) and the pair's published output."""
    methods = [Method(name, lambda path, content, style, baseline=baseline: baseline(content, style))
               for name, baseline in BASELINES.items()]
    if settings:
        loss = PhotorealStyleLoss(**settings.loss)

        def optimize(path, content, style):
            masks = (None, None)
            if pair["content_seg"] and pair["style_seg"]:
                masks = shared_masks(read_labels(bench / pair["content_seg"], content.shape[-2:]),
                                     read_labels(bench / pair["style_seg"], style.shape[-2:]))
            return optimize_photo(content, style, loss, settings, *masks, progress=False)[0]
        methods.append(Method("optimize", optimize))
    methods.append(Method("reference", lambda path, content, style: load(bench / pair["reference"]), timed=False))
    return methods
