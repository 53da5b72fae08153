"""Every Hydra option composes and builds; keys are the constructors' own arguments."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from conftest import PROJECT_ROOT

CONF = PROJECT_ROOT / "conf"
GROUPS = ["model", "loss", "style", "data", "trainer", "logger"]
OPTIONS = [(group, path.stem) for group in GROUPS for path in sorted((CONF / group).glob("*.yaml"))]


@pytest.fixture(autouse=True)
def project_root_resolver():
    OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT), replace=True)


def compose_config(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=[f"run_dir={tmp_path}", *overrides])


def test_every_group_has_options():
    assert {group for group, _ in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize("group,option", OPTIONS)
def test_every_option_composes_and_instantiates(tmp_path, group, option):
    # The GPU presets are built here on the CPU (the only device CI has), all else as written.
    on_cpu = ["trainer.accelerator=cpu", "trainer.devices=1"] if group == "trainer" and option != "cpu" else []
    cfg = compose_config(tmp_path, f"{group}={option}", *on_cpu)
    if group == "style":
        assert Path(cfg.style.image).is_file() and cfg.style.size > 0
    elif group == "logger":  # a set of named loggers
        assert all(instantiate(logger) for logger in cfg.logger.values())
    else:
        assert instantiate(cfg[group]) is not None


def test_the_default_config_builds_a_whole_system(tmp_path):
    cfg = compose_config(tmp_path)
    system = instantiate(cfg.system, net=instantiate(cfg.model), objective=instantiate(cfg.loss), optimizer=instantiate(cfg.optimizer))
    assert system.objective.style_layers == dict(cfg.loss.style_layers)
    assert type(system.net).__name__ == "BilateralNet"
    callbacks = [instantiate(c) for c in cfg.callbacks.values()]
    assert {type(c).__name__ for c in callbacks} == {"ModelCheckpoint", "LastCheckpoint", "TQDMProgressBar", "StopOnInterrupt"}
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=[instantiate(c) for c in cfg.logger.values()])
    assert {type(l).__name__ for l in trainer.loggers} == {"WandbLogger", "CSVLogger"}
    assert OmegaConf.to_container(cfg, resolve=True)  # what train.py stores in checkpoints resolves fully


def test_trainer_presets():
    presets = {}
    for option in ("cpu", "gpu", "ddp"):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            presets[option] = compose("config", overrides=[f"trainer={option}", "run_dir=."]).trainer
    assert (presets["cpu"].accelerator, presets["cpu"].precision) == ("cpu", "32-true")
    assert (presets["gpu"].accelerator, presets["gpu"].devices, presets["gpu"].precision) == ("gpu", 1, "bf16-mixed")
    assert (presets["ddp"].strategy, presets["ddp"].devices, presets["ddp"].precision) == ("ddp", -1, "bf16-mixed")
    # Everything else (schedule, checkpoint plugin) is shared, not copied.
    assert presets["ddp"].max_steps == presets["gpu"].max_steps == presets["cpu"].max_steps
    assert presets["ddp"].plugins == presets["cpu"].plugins
