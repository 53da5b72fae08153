"""Every Hydra option composes and builds; keys are the constructors' own arguments."""

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from benchmarks.common import compose_config
from photostyle.training.config_types import check_value_types

from conftest import PROJECT_ROOT

CONF = PROJECT_ROOT / "conf"
GROUPS = ["model", "loss", "style", "data", "trainer", "hardware", "strategy", "logger"]
OPTIONS = [(group, path.stem) for group in GROUPS for path in sorted((CONF / group).glob("*.yaml"))]


def test_every_group_has_options():
    assert {group for group, _ in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize("group,option", OPTIONS)
def test_every_option_composes_and_instantiates(tmp_path, group, option):
    # The GPU and DDP presets are built here on the CPU (the only device CI has), all else as written.
    on_cpu = ["trainer.accelerator=cpu", "trainer.devices=1"] if option in ("gpu", "ddp") else []
    # Each option as written has values of the types its constructors take (train.py refuses others).
    check_value_types(compose_config(f"run_dir={tmp_path}", f"{group}={option}"))
    cfg = compose_config(f"run_dir={tmp_path}", f"{group}={option}", *on_cpu)
    if group == "style":
        assert Path(cfg.style.image).is_file() and cfg.style.size > 0
    elif group == "logger":  # a set of named loggers
        assert all(instantiate(logger) for logger in cfg.logger.values())
    elif group in ("hardware", "strategy"):  # parts of the trainer
        assert instantiate(cfg.trainer) is not None
    else:
        assert instantiate(cfg[group]) is not None


def test_the_default_config_builds_a_whole_system(tmp_path):
    cfg = compose_config(f"run_dir={tmp_path}")
    system = instantiate(
        cfg.system, net=instantiate(cfg.model), loss=instantiate(cfg.loss), optimizer=instantiate(cfg.optimizer)
    )
    assert system.loss.style_layers == dict(cfg.loss.style_layers)
    assert type(system.net).__name__ == "BilateralNet"
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    assert {type(c).__name__ for c in callbacks} == {
        "ModelCheckpoint",
        "LastCheckpoint",
        "TQDMProgressBar",
        "StopOnInterrupt",
    }
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=[instantiate(c) for c in cfg.logger.values()])
    assert {type(logger).__name__ for logger in trainer.loggers} == {"WandbLogger", "CSVLogger"}
    assert OmegaConf.to_container(cfg, resolve=True)  # what train.py stores in checkpoints resolves fully


def test_hardware_and_strategy_compose_independently():
    trainers = {}
    for hardware in ("cpu", "gpu"):
        for strategy in ("single", "ddp"):
            trainers[hardware, strategy] = compose_config(
                f"hardware={hardware}", f"strategy={strategy}", "run_dir=."
            ).trainer
    for strategy in ("single", "ddp"):  # precision follows the hardware, whatever the strategy
        assert (trainers["cpu", strategy].accelerator, trainers["cpu", strategy].precision) == ("cpu", "32-true")
        assert (trainers["gpu", strategy].accelerator, trainers["gpu", strategy].precision) == ("gpu", "bf16-mixed")
    for hardware in ("cpu", "gpu"):  # and the strategy whatever the hardware
        assert (trainers[hardware, "single"].strategy, trainers[hardware, "single"].devices) == ("auto", 1)
        assert (trainers[hardware, "ddp"].strategy, trainers[hardware, "ddp"].devices) == ("ddp", "auto")
    # Everything else (schedule, checkpoint plugin) is shared, not copied.
    assert len({t.max_steps for t in trainers.values()}) == 1
    assert all(t.plugins == trainers["cpu", "single"].plugins for t in trainers.values())


def test_the_learning_rate_falls_to_zero_over_the_run_whatever_its_length(tmp_path):
    cfg = compose_config(f"run_dir={tmp_path}", "trainer.max_steps=40")
    optimizer = instantiate(cfg.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    scheduler = instantiate(cfg.scheduler)(optimizer)
    rates = []
    for _ in range(cfg.trainer.max_steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(cfg.optimizer.lr)
    assert rates[20] == pytest.approx(cfg.optimizer.lr / 2)
    assert rates[-1] < cfg.optimizer.lr / 100
    assert all(later <= earlier for earlier, later in zip(rates, rates[1:]))


def test_optimize_grid_loss_is_the_training_loss_with_its_two_changes(tmp_path):
    # optimize --grid fits the trained network's kind of look with training's loss, the anchor a
    # quarter as strong and a structure term (docs/results.md): kept in step with conf/loss.
    from photostyle.settings import look_loss

    overrides = [f"run_dir={tmp_path}", "loss.content_weight=2", "loss.structure_weight=10"]
    loss = OmegaConf.to_container(compose_config(*overrides).loss)
    defaults = {"_target_", "vgg_weights", "matting_eps", "tv_weight", "range_weight", "colour_directions"}
    assert {key: value for key, value in loss.items() if key not in defaults} == look_loss()
