"""Train a style network: python train.py style.image=STYLE.jpg data.root=PHOTOS/ [key=value ...]"""

from photostyle.errors import exit_quietly_on_ctrl_c

if __name__ == "__main__":
    exit_quietly_on_ctrl_c("train.py")  # before torch's and Lightning's imports, which take seconds


import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from photostyle.errors import PhotostyleError, exit_on_user_error
from photostyle.training.callbacks import StopOnInterrupt
from photostyle.training.checkpoints import load_checkpoint
from photostyle.training.config_types import check_value_types
from photostyle.training.framework_checks import built, check_framework_settings, optimizer_and_scheduler
from photostyle.training.overrides import exit_on_bad_overrides
from photostyle.training.resume import check_new_run_dir, check_same_training, resume_checkpoint

OmegaConf.register_new_resolver("project_root", lambda: str(Path(__file__).resolve().parent), replace=True)
# Lightning warns that a loader resumed mid-epoch starts afresh; ours draws by step number, so it carries on exactly.
warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error("train.py"):
        # No network here or in CI: wandb writes its run locally unless told otherwise.
        os.environ.setdefault("WANDB_MODE", "offline")
        check_value_types(cfg)
        check_framework_settings(cfg)
        pl.seed_everything(cfg.seed, workers=True)
        datamodule = instantiate(cfg.data)
        optimizer, scheduler = optimizer_and_scheduler(cfg)
        system = instantiate(
            cfg.system,
            net=instantiate(cfg.model),
            loss=instantiate(cfg.loss),
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
        if not resume or resume.parent.resolve() != (Path(cfg.run_dir) / "checkpoints").resolve():
            check_new_run_dir(Path(cfg.run_dir))  # a checkpoint from elsewhere is not this folder's run
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
        why_no_last = "no step trained" if trainer.global_step == 0 else "no checkpoint callback keeps a last one"
        print(f"run folder: {cfg.run_dir}\nlast checkpoint: {last or f'none ({why_no_last})'}")
        print(f"best checkpoint: {best or 'none (no validation ran: it runs every trainer.val_check_interval steps)'}")


if __name__ == "__main__":
    exit_on_bad_overrides("train.py", Path(__file__).resolve().parent / "conf", "config", sys.argv[1:])
    main()
