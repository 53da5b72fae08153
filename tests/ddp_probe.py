"""A callback for tests/test_ddp.py, added to a train.py run with +callbacks.probe._target_=ddp_probe.RankProbe:
each process records the batches it trained on and its weights before and after."""

from pathlib import Path

import pytorch_lightning as pl
import torch


class RankProbe(pl.Callback):
    def __init__(self, out: str):
        self.out, self.batches = Path(out), []

    def on_train_start(self, trainer, pl_module) -> None:
        self.initial = self.weights(pl_module)

    @staticmethod
    def weights(pl_module) -> dict[str, torch.Tensor]:
        return {name: value.detach().cpu().clone() for name, value in pl_module.net.state_dict().items()}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append(batch.detach().cpu().clone())

    def on_train_end(self, trainer, pl_module) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "batches": self.batches,
                "initial": self.initial,
                "state": self.weights(pl_module),
                "world_size": trainer.world_size,
            },
            self.out / f"rank{trainer.global_rank}.pt",
        )
