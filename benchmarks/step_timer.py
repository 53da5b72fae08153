"""A callback that benchmarks.train_throughput adds to a train.py run: when every training step ended."""

import json
import time
from pathlib import Path

import pytorch_lightning as pl


class StepTimer(pl.Callback):
    def __init__(self, out: str):
        self.out, self.ends = Path(out), []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.ends.append(time.perf_counter())

    def on_train_end(self, trainer, pl_module) -> None:
        if trainer.global_rank == 0:
            self.out.write_text(
                json.dumps(
                    {
                        "ends": self.ends,
                        "world_size": trainer.world_size,
                        "precision": str(trainer.precision),
                        "device": str(pl_module.device),
                    }
                )
            )
