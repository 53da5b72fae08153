"""What the benchmark scripts share beyond benchmarks.basics: the bench pairs (--pairs), the
methods compared on them and the protocol's measuring side; the Hydra config as train.py composes
it; training, exporting and stylizing through the real entry points; and a `photostyle serve`
harness (a model to serve, the server in a process of its own, its address once it answers)."""

import argparse
import csv
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from photostyle import __version__
from photostyle.evaluation.baselines import BASELINES
from photostyle.evaluation.evaluate import Method, evaluate_photo, metrics_markdown
from photostyle.evaluation.masks import read_labels, shared_masks
from photostyle.evaluation.metrics import StyleDistance
from photostyle.evaluation.optimize import optimize_photo
from photostyle.interface import VERSION_KEY
from photostyle.settings import OptimizeSettings
from photostyle.training.loss import PhotorealStyleLoss
from photostyle.training.onnx_export import export_onnx
from photostyle.training.tensors import load
from photostyle.training.vgg import VGG19Features

ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = ROOT.parent / "shared" / "bench"
# The bench pairs every method is compared on, chosen up front: a spread of the three sets
# (landscapes, cities, buildings; day to night, season and colour-grade changes).
BENCH_PAIRS = ["stylenas/1", "stylenas/4", "stylenas/12", "photowct2/0", "photowct2/3", "dpst/2", "dpst/5", "dpst/9"]
# Sixteen other pairs that confirm a recipe tuned on BENCH_PAIRS, chosen before any of them was
# measured and never used while tuning: every photowct2 pair left, and of the rest a sample
# drawn with random.Random(19) (8 of the 35 stylenas pairs, 5 of the 9 dpst pairs).
CONFIRMATION_PAIRS = [
    *(f"stylenas/{i}" for i in (5, 10, 13, 15, 16, 21, 37, 39)),
    *(f"photowct2/{i}" for i in (1, 2, 4)),
    *(f"dpst/{i}" for i in (1, 4, 6, 7, 12)),
]
# The longer side the quality protocol measures photos at (content, style and every output).
PROTOCOL_SIDE = 512


def compose_config(*overrides: str, config_name: str = "config") -> DictConfig:
    """conf/CONFIG_NAME.yaml with its script's overrides: train.py's (e.g. "model=residual",
    "model.base_channels=8"), or export.py's with config_name="export"."""
    OmegaConf.register_new_resolver("project_root", lambda: str(ROOT), replace=True)  # as train.py registers it
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name=config_name, overrides=list(overrides))


def build_network(spec: str) -> nn.Module:
    """The untrained network of conf/model/NAME.yaml, for a spec NAME or NAME:KEY=VALUE[,KEY=VALUE...]."""
    name, _, changes = spec.partition(":")
    overrides = [f"model.{change}" for change in changes.split(",")] if changes else []
    return instantiate(compose_config(f"model={name}", *overrides).model).eval()


def export_network(spec: str, folder: Path) -> Path:
    """build_network(spec) as a photostyle ONNX model in folder, named after the spec."""
    path = folder / f"{spec.replace(':', '.')}.onnx"
    export_onnx(build_network(spec), path, {"network": spec.partition(":")[0], VERSION_KEY: __version__})
    return path


def add_pair_arguments(parser: argparse.ArgumentParser, named_set: str, named_set_help: str) -> None:
    """--pairs SET/ID ... (default BENCH_PAIRS), or a flag naming a fixed set of pairs: one or
    the other, since either would quietly win over the other."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--pairs", nargs="+", default=BENCH_PAIRS, help="SET/ID from pairs.csv")
    which.add_argument(named_set, action="store_true", help=named_set_help)


def add_bench_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bench", type=Path, default=SHARED_BENCH, help="the bench photos and their pairs.csv")


def read_pairs(bench: Path) -> dict[str, dict[str, str]]:
    """The rows of bench/pairs.csv by "SET/ID"; exits with one line when the bench is absent."""
    if not (bench / "pairs.csv").is_file():
        raise SystemExit(f"{bench / 'pairs.csv'} not found: this benchmark needs the shared bench photos (--bench)")
    with open(bench / "pairs.csv") as file:
        return {f"{row['set']}/{row['id']}": row for row in csv.DictReader(file)}


def require_pairs(pairs: dict[str, dict[str, str]], names: list[str]) -> list[str]:
    """`names` if each is one of `pairs`; otherwise exits, before any work, with one line naming them all."""
    if unknown := [name for name in names if name not in pairs]:
        raise SystemExit(f"--pairs: no pair {' '.join(unknown)} in pairs.csv; the pairs are {' '.join(pairs)}")
    return names


def pair_folder(out: Path, name: str) -> Path:
    """Where a benchmark writing under `out` keeps pair SET/ID's files: out/SET_ID."""
    return out / name.replace("/", "_")


def protocol_run(out: Path, name: str, seed: int) -> Path:
    """The quality protocol's run for pair SET/ID and a seed under its --out: out/SET_ID/seedN,
    holding the checkpoints and model.onnx."""
    return pair_folder(out, name) / f"seed{seed}"


def evaluate_pair(
    name: str,
    pair: dict[str, str],
    bench: Path,
    methods: list[Method],
    out: Path,
    side: int = PROTOCOL_SIDE,
    post: bool = False,
    vgg: VGG19Features | None = None,
) -> list[dict]:
    """evaluate_photo on the pair's content photo with its style photo, both at longer side `side`, the
    outputs under pair_folder(out, name); each row also has "pair": name. `vgg`: one to share between pairs."""
    style = load(bench / pair["style"], side)
    distance = StyleDistance(style, vgg)
    rows = evaluate_photo(bench / pair["content"], style, methods, pair_folder(out, name), side, post, distance)
    return [{**row, "pair": name} for row in rows]


def train_and_export(run_dir: Path, overrides: list[str]) -> Path:
    """train.py into run_dir with the given overrides (CSV logging only), then export.py; the model's path."""
    # A benchmark's rerun trains afresh into its folder, where train.py refuses another run's checkpoints.
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    subprocess.run(
        [sys.executable, "train.py", "logger=csv", f"hydra.run.dir={run_dir}", *overrides],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    model = run_dir / "model.onnx"
    subprocess.run(
        [
            sys.executable,
            "export.py",
            f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}",
            f"out={model}",
            "overwrite=true",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return model


def run_cli(*args: str | Path) -> None:
    """The `photostyle` command, quietly (through the interpreter, so no installed script is needed)."""
    subprocess.run(
        [sys.executable, "-m", "photostyle", *args], check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )


def stylize(model: Path, inputs: list[Path], output: Path, *options: str) -> None:
    run_cli("stylize", model, *inputs, "-o", output, "--overwrite", *options)


def baseline_method(name: str) -> Method:
    """The colour-transfer baseline BASELINES[name] as an evaluation method."""
    baseline = BASELINES[name]
    return Method(name, lambda path, content, style: baseline(content, style))


def per_pair_markdown(rows: list[dict]) -> str:
    """One Markdown row per (pair, method) of evaluate_photo rows that carry a "pair" key."""
    return metrics_markdown(rows, ("pair", "method"))


def pair_methods(
    pair: dict[str, str], bench: Path, optimizers: dict[str, OptimizeSettings] | None = None
) -> list[Method]:
    """The baselines, each per-image optimisation in `optimizers` (by method name; with the pair's
    masks where it has them) and the pair's published output."""
    methods = [baseline_method(name) for name in BASELINES]
    for name, settings in (optimizers or {}).items():
        methods.append(Method(name, optimize_method(pair, bench, settings)))
    methods.append(Method("reference", lambda path, content, style: load(bench / pair["reference"]), timed=False))
    return methods


def optimize_method(pair: dict[str, str], bench: Path, settings: OptimizeSettings):
    loss = PhotorealStyleLoss(**settings.loss)

    def optimize(path, content, style):
        masks = (None, None)
        if pair["content_seg"] and pair["style_seg"]:
            masks = shared_masks(
                read_labels(bench / pair["content_seg"], content.shape[-2:]),
                read_labels(bench / pair["style_seg"], style.shape[-2:]),
            )
        return optimize_photo(content, style, loss, settings, *masks, progress=False)[0]

    return optimize


def model_to_serve(model: Path | None, network: str, folder: Path) -> str:
    """Put `model` (or, without one, the untrained `network` exported) in folder; its name there."""
    if model:
        (folder / model.name).symlink_to(model.resolve())
        return model.stem
    return export_network(network, folder).stem


@contextmanager
def serving(folder: Path, workers: int) -> Iterator[tuple[str, subprocess.Popen]]:
    """`photostyle serve FOLDER` in a process of its own on a free loopback port, once it answers: (URL, process)."""
    with tempfile.TemporaryDirectory() as logs:
        command = [sys.executable, "-m", "photostyle", "serve", str(folder), "--workers", str(workers)]
        with serve_process(command, Path(logs) / "serve.log") as started:
            yield started


def answers(url: str) -> bool:
    """Whether a server answers HTTP at `url` (any status: a Host it refuses gets 400)."""
    try:
        httpx.get(f"{url}/healthz")
    except httpx.HTTPError:
        return False
    return True


# The first line `photostyle serve` prints, which names the address it listens on.
SERVING_LINE = re.compile(r"^photostyle: serving .* on (http://[^/\s]+)/ \(API docs", re.MULTILINE)


@contextmanager
def serve_process(
    command: Sequence[str], log: Path, preexec_fn: Callable[[], None] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`command`, a `photostyle serve` command line, on a port the server takes itself (`--port 0`,
    so that no other process can take it between a probe and the bind), its output to `log`, once it
    answers HTTP: (URL, process). The process is stopped at the end if it still runs."""
    with open(log, "w") as output:
        server = subprocess.Popen(
            [*command, "--port", "0"], stdout=output, stderr=subprocess.STDOUT, preexec_fn=preexec_fn
        )
    try:
        deadline = time.monotonic() + 60
        while not (serving_line := SERVING_LINE.search(log.read_text())) or not answers(serving_line[1]):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the server did not start: {log.read_text()}")
            time.sleep(0.2)
        yield serving_line[1], server
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
