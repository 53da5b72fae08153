"""Lightning plumbing for safe checkpoints."""

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint

from photostyle.files import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temporary file and renamed: a kill during a save never
    leaves a corrupt last.ckpt behind."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(Path(path)) as stream:
            torch.save(checkpoint, stream)


class LastCheckpoint(ModelCheckpoint):
    """last.ckpt every `every_n_train_steps` steps and when training ends.

    Lightning's own save_last only follows a new best checkpoint, so a run whose final
    validation did not improve would end with a stale last.ckpt to resume from.
    """

    def __init__(self, dirpath: str, every_n_train_steps: int = 25):
        super().__init__(dirpath=dirpath, save_top_k=0, save_last=True, every_n_train_steps=every_n_train_steps)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
