"""Train a style network: python train.py style.image=STYLE.jpg data.root=PHOTOS/ [key=value ...]"""

from photostyle.errors import exit_quietly_on_ctrl_c

if __name__ == "__main__":
    exit_quietly_on_ctrl_c("train.py")  # before torch's and Lightning's imports, which take seconds


import os
import shlex
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import hydra
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from photostyle.errors import PhotostyleError, exit_on_user_error
from photostyle.training.callbacks import StopOnInterrupt
from photostyle.training.checkpoints import load_checkpoint
from photostyle.training.config_types import check_value_types
from photostyle.training.resume import check_new_run_dir, check_same_training, resume_checkpoint

OmegaConf.register_new_resolver("project_root", lambda: str(Path(__file__).resolve().parent), replace=True)
T = TypeVar("T")
# Lightning warns that a loader resumed mid-epoch starts afresh; ours draws by step number, so it carries on exactly.
warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _gpu_visible() -> bool:
    return torch.cuda.is_available() or torch.backends.mps.is_available()


def built(group: str, make: Callable[[], T]) -> T:
    """make() for a config group that torch or Lightning checks (trainer, callbacks, logger,
    optimizer, scheduler): a value they refuse is one line naming the group, not their traceback."""
    try:
        return make()
    except PhotostyleError:
        raise
    except Exception as error:  # MisconfigurationException, ValueError, ..., wrapped by Hydra's instantiate
        while error.__cause__ is not None:
            error = error.__cause__
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise PhotostyleError(f"{group}: {reason}; check the {group}.* overrides") from None


def check_run_folder(overrides: list[str]) -> None:
    """Hydra makes the run folder before main() runs, so a folder it cannot make would end in
    Hydra's traceback: make the part of it that names no ${...} interpolation first."""
    if any(argument.startswith("-") for argument in overrides):  # --help, --cfg job, -m: Hydra makes no run folder
        return
    given = [override.split("=", 1)[1] for override in overrides if override.startswith("hydra.run.dir=")]
    value = given[-1] if given else "outputs/${now:%Y-%m-%d}"
    fixed = value[: value.rfind("/", 0, value.find("${")) + 1] if "${" in value else value
    folder = Path(fixed or ".")
    nearest = next(path for path in [folder, *folder.parents] if path.exists() or path == Path("."))
    if nearest.exists() and not nearest.is_dir():
        raise PhotostyleError(f"hydra.run.dir={value}: {nearest} is a file; choose a folder for the run")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(13, "not writable")
    except OSError as error:
        raise PhotostyleError(
            f"hydra.run.dir={value}: cannot make or write {folder} ({error.strerror or error});"
            " choose a folder you can write to"
        ) from None


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
    seed = cfg.get("seed")
    if not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**32):
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


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error("train.py"):
        # No network here or in CI: wandb writes its run locally unless told otherwise.
        os.environ.setdefault("WANDB_MODE", "offline")
        check_value_types(cfg)
        check_framework_settings(cfg)
        pl.seed_everything(cfg.seed, workers=True)
        datamodule = instantiate(cfg.data)
        optimizer = built("optimizer", lambda: instantiate(cfg.optimizer))
        # Built once on a stand-in parameter, so that a value torch refuses is refused now, not at the first step.
        trial = built("optimizer", lambda: optimizer([torch.nn.Parameter(torch.zeros(1))]))
        scheduler = built("scheduler", lambda: instantiate(cfg.scheduler)) if cfg.scheduler else None
        if scheduler:
            built("scheduler", lambda: scheduler(trial))
        system = instantiate(
            cfg.system,
            net=instantiate(cfg.model),
            objective=instantiate(cfg.loss),
            optimizer=optimizer,
            scheduler=scheduler,
        )
        # The whole resolved config goes into every checkpoint: export.py rebuilds the network from it.
        system.save_hyperparameters(OmegaConf.to_container(cfg, resolve=True))
        callbacks = built("callbacks", lambda: [instantiate(c) for c in cfg.callbacks.values()])
        loggers = built("logger", lambda: [instantiate(c) for c in cfg.logger.values()]) if cfg.logger else False
        trainer = built("trainer", lambda: instantiate(cfg.trainer, callbacks=callbacks, logger=loggers))
        resume = resume_checkpoint(cfg.ckpt_path, Path(cfg.run_dir))
        if resume:
            # An unsafe, foreign or differently configured checkpoint gets one line here, not a traceback later.
            check_same_training(load_checkpoint(resume), system.hparams, resume)
        else:
            check_new_run_dir(Path(cfg.run_dir))
        start = time.monotonic()
        try:
            trainer.fit(system, datamodule=datamodule, ckpt_path=resume)
        except SystemExit:
            # Lightning ends a Ctrl-C it catches itself (a second one, or one before the first
            # step) with status 1; it is an interruption like any other.
            if trainer.interrupted:
                raise KeyboardInterrupt from None
            raise
        print(f"trained to step {trainer.global_step} in {(time.monotonic() - start) / 60:.1f} min")
        if not all(weight.isfinite().all() for weight in system.net.parameters()):
            raise PhotostyleError(
                "training diverged: the network's weights are NaN or infinite, and so are those in last.ckpt;"
                " train again with a lower optimizer.lr"
            )
        if skipped := datamodule.skipped_photos():
            print(f"skipped unreadable photos {skipped} time(s) (the warnings above name them)")
        if any(isinstance(c, StopOnInterrupt) and c.interrupted for c in trainer.callbacks):
            kept = [o for o in HydraConfig.get().overrides.task if not o.startswith(("ckpt_path=", "hydra.run.dir="))]
            print(
                f"train.py: interrupted at step {trainer.global_step}; last.ckpt is saved, resume with:\n"
                f"  python train.py {shlex.join([*kept, f'hydra.run.dir={cfg.run_dir}', 'ckpt_path=last'])}",
                file=sys.stderr,
            )
            sys.exit(130)
        last = next((c.last_model_path for c in trainer.checkpoint_callbacks if c.last_model_path), "")
        best = next((c.best_model_path for c in trainer.checkpoint_callbacks if c.best_model_path), "")
        print(f"run folder: {cfg.run_dir}\nlast checkpoint: {last or 'none (no step trained)'}")
        print(f"best checkpoint: {best or 'none (no validation ran: it runs every trainer.val_check_interval steps)'}")


if __name__ == "__main__":
    with exit_on_user_error("train.py"):
        check_run_folder(sys.argv[1:])
    main()
