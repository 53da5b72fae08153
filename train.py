"""Train a style network: python train.py style.image=STYLE.jpg data.root=PHOTOS/ [key=value ...]"""

import os
import time
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from photostyle.checkpoints import load_checkpoint
from photostyle.errors import exit_on_user_error

OmegaConf.register_new_resolver("project_root", lambda: str(Path(__file__).resolve().parent), replace=True)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error("train.py"):
        # No network here or in CI: wandb writes its run locally unless told otherwise.
        os.environ.setdefault("WANDB_MODE", "offline")
        pl.seed_everything(cfg.seed, workers=True)
        datamodule = instantiate(cfg.data)
        system = instantiate(
            cfg.system,
            net=instantiate(cfg.model),
            objective=instantiate(cfg.loss),
            optimizer=instantiate(cfg.optimizer),
            scheduler=instantiate(cfg.scheduler) if cfg.scheduler else None,
        )
        # The whole resolved config goes into every checkpoint: export.py rebuilds the network from it.
        system.save_hyperparameters(OmegaConf.to_container(cfg, resolve=True))
        trainer = instantiate(
            cfg.trainer,
            callbacks=[instantiate(c) for c in cfg.callbacks.values()],
            logger=[instantiate(c) for c in cfg.logger.values()] if cfg.logger else False,
        )
        if cfg.ckpt_path and cfg.ckpt_path not in ("last", "best"):
            load_checkpoint(Path(cfg.ckpt_path))  # an unsafe or foreign file gets one line here, not a traceback later
        start = time.monotonic()
        trainer.fit(system, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
        checkpoints = Path(cfg.run_dir) / "checkpoints"
        print(f"trained to step {trainer.global_step} in {(time.monotonic() - start) / 60:.1f} min")
        if datamodule.skipped_photos():
            print(f"skipped unreadable photos {datamodule.skipped_photos()} time(s) (the warnings above name them)")
        print(f"run folder: {cfg.run_dir}\nlast checkpoint: {checkpoints / 'last.ckpt'}\nbest checkpoint: {checkpoints / 'best.ckpt'}")


if __name__ == "__main__":
    main()
