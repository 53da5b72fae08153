"""train.py's settings that torch and Lightning check themselves, later and with a traceback:
checked up front, or their refusal turned into one line naming the config group."""

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import torch
from hydra.utils import instantiate
from lightning_fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig

import photostyle
from photostyle.errors import PhotostyleError, first_line

T = TypeVar("T")
PACKAGE_ROOT = Path(photostyle.__file__).resolve().parent


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _gpu_visible() -> bool:
    return torch.cuda.is_available() or torch.backends.mps.is_available()


def built(group: str, make: Callable[[], T]) -> T:
    """make() for a config group that torch or Lightning checks (trainer, callbacks, logger,
    optimizer, scheduler): a value they refuse is one line naming the group, not their traceback."""
    try:
        return make()
    except Exception as error:
        refusal = _framework_refusal(error)
        if refusal is None:
            raise
        reason = first_line(refusal)
        raise PhotostyleError(f"{group}: {reason}; check the {group}.* overrides") from None


def _framework_refusal(error: BaseException) -> BaseException | None:
    """The error torch or Lightning raised for a value they refuse, below Hydra's wrapping; None
    for anything else, and for any error raised in photostyle's own code, which is a bug to show."""
    while error.__cause__ is not None:
        error = error.__cause__
    if not isinstance(error, ValueError | TypeError | IndexError | MisconfigurationException):
        return None
    frames = traceback.extract_tb(error.__traceback__)
    if frames and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE_ROOT):
        return None
    return error


def check_framework_settings(cfg: DictConfig) -> None:
    """The values torch and Lightning would take and fail on later, with a traceback."""
    steps, lr = cfg.trainer.get("max_steps"), cfg.optimizer.get("lr")
    if cfg.scheduler and not (_number(steps) and steps >= 1):  # -1, Lightning's "no limit", has no schedule's end
        raise PhotostyleError(
            f"trainer.max_steps={steps}: the learning rate's schedule needs a number of steps,"
            " e.g. 200 (or scheduler=null for a constant rate)"
        )
    if _number(lr) and not lr > 0:
        raise PhotostyleError(f"optimizer.lr={lr} must be > 0, e.g. 3e-3")
    seed = cfg.get("seed")  # a whole number: check_value_types has seen to that
    if _number(seed) and not 0 <= seed < 2**32:
        raise PhotostyleError(f"seed={seed} must be a whole number from 0 to {2**32 - 1}, e.g. 0")
    period = cfg.scheduler.get("T_max") if cfg.scheduler else None
    if _number(period) and not period >= 1:
        raise PhotostyleError(f"scheduler.T_max={period} must be at least 1 step (it follows trainer.max_steps)")
    accumulate = cfg.trainer.get("accumulate_grad_batches")
    if accumulate is not None and not (isinstance(accumulate, int) and accumulate >= 1):
        raise PhotostyleError(f"trainer.accumulate_grad_batches={accumulate} must be a whole number >= 1, e.g. 1")
    if cfg.trainer.get("accelerator") in ("gpu", "cuda") and not _gpu_visible():
        raise PhotostyleError(
            "hardware=gpu: no GPU is visible to this process; train with hardware=cpu (the default),"
            " or check the driver and CUDA_VISIBLE_DEVICES"
        )
    # A number of steps; a fraction of an epoch only with epochs (check_val_every_n_epoch), as the
    # run is one long epoch otherwise. A time ("00:00:30:00") is Lightning's to check.
    interval = cfg.trainer.get("val_check_interval")
    by_epoch = cfg.trainer.get("check_val_every_n_epoch") is not None
    if _number(interval) and not (interval > 0 and (isinstance(interval, int) or by_epoch)):
        raise PhotostyleError(
            f"trainer.val_check_interval={interval} must be a whole number of steps, e.g. 100;"
            " +trainer.limit_val_batches=0 runs no validation"
        )


def optimizer_and_scheduler(cfg: DictConfig) -> tuple[Callable, Callable | None]:
    """The optimizer's and the scheduler's makers (Hydra partials, which the LightningModule calls
    on its parameters), each built once on a stand-in parameter, so that a value torch refuses is
    refused now, not at the first step."""
    optimizer = built("optimizer", lambda: instantiate(cfg.optimizer))
    trial = built("optimizer", lambda: optimizer([torch.nn.Parameter(torch.zeros(1))]))
    if not cfg.scheduler:
        return optimizer, None
    scheduler = built("scheduler", lambda: instantiate(cfg.scheduler))
    built("scheduler", lambda: scheduler(trial))
    return optimizer, scheduler
