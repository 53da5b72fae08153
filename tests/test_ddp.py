"""strategy=ddp really runs data-parallel: two processes on the CPU (gloo), through train.py as README shows it."""

import os

import pytest
import torch

from conftest import PROJECT_ROOT, PYTHON, TINY, run

# Trains or drives the real entry points for seconds to minutes each.
pytestmark = pytest.mark.slow


def test_two_processes_see_different_photos_and_end_with_the_same_weights(tmp_path, photo_folder, style_photo):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "tests"), os.environ.get("PYTHONPATH", "")])}
    probe = tmp_path / "probe"
    # README's CPU DDP command as written (no precision override: the CPU preset's full precision holds).
    result = run(
        PYTHON,
        "train.py",
        "strategy=ddp",
        "trainer.devices=2",
        "trainer.max_steps=3",
        "logger=csv",
        f"data.root={photo_folder}",
        f"style.image={style_photo}",
        *TINY,
        f"hydra.run.dir={tmp_path / 'run'}",
        "+callbacks.probe._target_=ddp_probe.RankProbe",
        f"+callbacks.probe.out={probe}",
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [torch.load(probe / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [rank["world_size"] for rank in ranks] == [2, 2]
    assert len(ranks[0]["batches"]) == len(ranks[1]["batches"]) == 3
    for mine, theirs in zip(ranks[0]["batches"], ranks[1]["batches"]):
        assert not torch.equal(mine, theirs)  # each process trained on its own share
    assert ranks[0]["state"].keys() == ranks[1]["state"].keys()
    for name, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][name]), name  # gradients were averaged: one model
    # The weights moved: training happened, not just two identical initialisations.
    assert any(not torch.equal(value, ranks[0]["initial"][name]) for name, value in ranks[0]["state"].items())
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 3
