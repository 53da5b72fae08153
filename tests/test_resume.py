"""Training stopped by Ctrl-C or killed outright resumes with ckpt_path=last and ends with
the weights of a run that was never interrupted."""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import torch

from conftest import PROJECT_ROOT, PYTHON, TINY, run, save_photo

# Trains or drives the real entry points for seconds to minutes each.
pytestmark = pytest.mark.slow

MAX_STEPS = 24
# Crops large enough that a step takes a while, so the signal lands mid-run; a checkpoint every 3 steps.
SETTINGS = [
    *TINY,
    "data.crop_size=96",
    "data.epoch_size=10",
    "data.num_workers=1",
    "logger=csv",
    "callbacks.last.every_n_train_steps=3",
    f"trainer.max_steps={MAX_STEPS}",
]


def _train(inputs: Path, run_dir: Path, *extra: str) -> list[str]:
    return [
        PYTHON,
        "train.py",
        f"data.root={inputs / 'photos'}",
        f"style.image={inputs / 'style.png'}",
        *SETTINGS,
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


def _weights(run_dir: Path) -> tuple[int, dict[str, torch.Tensor]]:
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    return checkpoint["global_step"], checkpoint["state_dict"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Photos and a style photo shared by every run here: a resumed run must see what the first one saw."""
    folder = tmp_path_factory.mktemp("inputs")
    for seed in range(5):
        save_photo(folder / "photos" / f"{seed}.png", 60 + seed, 70 - seed, seed)
    save_photo(folder / "style.png", 48, 64, 9)
    return folder


@pytest.fixture(scope="module")
def uninterrupted(inputs, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted")
    result = run(*_train(inputs, run_dir))
    assert result.returncode == 0, result.stderr[-2000:]
    return _weights(run_dir)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_interrupted_training_resumes_to_the_same_weights(stop, uninterrupted, inputs, tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        _train(inputs, run_dir),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal gives a command
    )
    while not (run_dir / "checkpoints" / "last.ckpt").exists() and process.poll() is None:
        time.sleep(0.02)
    # A terminal's Ctrl-C reaches the whole group, the data loader's worker too.
    os.killpg(process.pid, stop)
    _, stderr = process.communicate(timeout=120)
    stopped_at, _ = _weights(run_dir)
    assert 3 <= stopped_at < MAX_STEPS  # it really stopped part way
    if stop == signal.SIGINT:
        # Ctrl-C finishes the step in progress, saves it and says how to go on.
        assert process.returncode == 130 and "Traceback" not in stderr, stderr[-2000:]
        assert f"interrupted at step {stopped_at}" in stderr and "ckpt_path=last" in stderr
    else:
        assert process.returncode == -signal.SIGKILL
        assert stopped_at % 3 == 0  # the last periodic save, whole despite the kill

    result = run(*_train(inputs, run_dir, "ckpt_path=last"))
    assert result.returncode == 0, result.stderr[-2000:]
    steps, weights = _weights(run_dir)
    expected_steps, expected = uninterrupted
    assert steps == expected_steps == MAX_STEPS
    assert expected.keys() == weights.keys()
    for name, tensor in expected.items():
        assert torch.equal(tensor, weights[name]), name


def test_ctrl_c_during_the_sanity_check_stops_after_the_first_step_with_a_checkpoint(inputs, tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        _train(inputs, run_dir),
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one pipe, read as it comes, so neither fills up and blocks the run
        start_new_session=True,
    )
    checking = threading.Event()
    output = bytearray()

    def read_output() -> None:  # the progress bar says when the sanity check has its first batch
        while chunk := process.stdout.read1(4096):
            output.extend(chunk)
            if b"Sanity Checking DataLoader" in output:
                checking.set()
        checking.set()  # the run ended before it

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    assert checking.wait(timeout=300) and process.poll() is None, output[-2000:]
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=120)
    reader.join(timeout=10)
    text = output.decode(errors="replace")
    assert process.returncode == 130 and "Traceback" not in text, text[-2000:]
    # The first step, or the second if the sanity check ended and the first step began as the signal came.
    stopped_at, _ = _weights(run_dir)
    assert stopped_at in (1, 2) and f"interrupted at step {stopped_at};" in text
