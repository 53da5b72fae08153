"""Lightning plumbing for safe checkpoints and a clean stop on Ctrl-C."""

import signal
import threading
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import ModelCheckpoint

from photostyle.files import atomic_write, write_failure


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temporary file and renamed: a kill during a save never
    leaves a corrupt last.ckpt behind."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with atomic_write(Path(path)) as stream:
                torch.save(checkpoint, stream)
        except OSError as error:
            raise write_failure(Path(path), error) from None
        except RuntimeError as error:  # torch.save's own words for a write the file system refused
            if not isinstance(error.__context__, OSError):
                raise
            raise write_failure(Path(path), error.__context__) from None


class LastCheckpoint(ModelCheckpoint):
    """last.ckpt every `every_n_train_steps` steps and when training ends.

    Lightning's own save_last writes last.ckpt at the end of training only if it never wrote
    one before, so a run that stops between two saves (a Ctrl-C at step 137, saves every 25)
    would keep step 125's weights. The override uses ModelCheckpoint's private members
    (_last_global_step_saved, _save_last_checkpoint, _monitor_candidates): a Lightning upgrade
    that renames them ends every run, and the test suite, with an AttributeError, not silently.
    """

    def __init__(self, dirpath: str, every_n_train_steps: int = 25):
        # Always last.ckpt: a run resumed from best.ckpt restores no last path, and Lightning would
        # otherwise write last-v1.ckpt beside the old last.ckpt, which ckpt_path=last would resume.
        super().__init__(
            dirpath=dirpath,
            save_top_k=0,
            save_last=True,
            every_n_train_steps=every_n_train_steps,
            enable_version_counter=False,
        )

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))


class StopOnInterrupt(pl.Callback):
    """The first Ctrl-C (SIGINT) ends training after the step in progress, so last.ckpt
    holds a whole step to resume from; a second Ctrl-C stops at once.

    Lightning's own Ctrl-C handling stops wherever the KeyboardInterrupt lands, possibly in
    the middle of an optimiser step, and saves nothing.
    """

    def __init__(self):
        self.interrupted = False
        self._previous_handler = None

    def _request_stop(self, signum, frame) -> None:
        self.interrupted = True
        signal.signal(signal.SIGINT, self._previous_handler)  # the second Ctrl-C raises KeyboardInterrupt

    def _take_ctrl_c(self) -> None:
        # Python only lets the main thread set handlers.
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) != self._request_stop
        ):
            self._previous_handler = signal.signal(signal.SIGINT, self._request_stop)

    # From the sanity check (or the first step, without one) to the end of fit or the error that
    # ends it. Not before: Lightning saves the handlers just before the sanity check and puts them
    # back after an error, which would bring back one set earlier.
    def on_sanity_check_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._take_ctrl_c()

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._take_ctrl_c()

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        # Every process stops after the same step, whichever of them saw the signal.
        if trainer.strategy.reduce_boolean_decision(self.interrupted, all=False):
            self.interrupted = trainer.should_stop = True

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._previous_handler is not None and signal.getsignal(signal.SIGINT) == self._request_stop:
            signal.signal(signal.SIGINT, self._previous_handler)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.teardown(trainer, pl_module, "fit")  # Lightning skips teardown when fit fails
