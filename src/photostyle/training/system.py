"""The one LightningModule: a style network trained against the photoreal style objective."""

from collections.abc import Callable, Iterable
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from torch import nn
from torchvision.utils import make_grid

from photostyle.errors import PhotostyleError
from photostyle.images import write_photo
from photostyle.training.loss import PhotorealStyleLoss
from photostyle.training.tensors import load


class StyleTransferSystem(pl.LightningModule):
    """Owns the network, the loss (frozen VGG19 and the style targets), the optimiser
    and the sample images; `forward` is plain inference."""

    def __init__(
        self,
        net: nn.Module,
        loss: PhotorealStyleLoss,
        style_image: str,
        style_size: int,
        optimizer: Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer],
        scheduler: Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler] | None = None,
        sample_count: int = 4,
    ):
        super().__init__()
        if not style_size >= 1:
            raise PhotostyleError(f"style.size={style_size} must be a positive whole number, e.g. 384")
        self.net = net
        self.loss = loss
        style = load(Path(style_image), max_side=style_size, copy=False)  # (1, 3, H, W), longer side at most style_size
        self.loss.set_style(style)
        if hasattr(net, "set_style"):  # a network that adapts to the style photo's statistics
            net.set_style(style)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.sample_count = sample_count
        # (contents, outputs) of the first validation photos, gathered batch by batch
        self._samples: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # Networks may leave [0, 1] a little (see BilateralNet); this is what a saved photo shows.
        # Training gives the loss the output as made: it clips it itself (PhotorealStyleLoss).
        return self.net(image).clamp(0, 1)

    def on_fit_start(self) -> None:
        crop_size = getattr(self.trainer.datamodule, "crop_size", None)
        if crop_size is not None and crop_size < self.loss.vgg.min_size:
            raise PhotostyleError(
                f"data.crop_size={crop_size} is too small for the VGG layers up to {self.loss.vgg.names[-1]}"
                f" (at least {self.loss.vgg.min_size})"
            )

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        terms = self.loss(self.net(batch), batch)
        self.log_dict({f"train/{name}": value for name, value in terms.items()}, prog_bar=False)
        self.log("loss", terms["loss"], prog_bar=True, logger=False)
        return terms["loss"]

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        made = self.net(batch)
        terms = self.loss(made, batch)
        output = made.clamp(0, 1)
        self.log_dict({f"val/{name}": value for name, value in terms.items()}, batch_size=batch.shape[0])
        # From as many batches as it takes: with one photo a step, each batch holds one photo.
        wanted = self.sample_count - sum(len(contents) for contents, _ in self._samples)
        if wanted > 0:
            self._samples.append((batch[:wanted].cpu(), output[:wanted].cpu()))

    def on_validation_epoch_start(self) -> None:
        self._samples = []

    def on_validation_epoch_end(self) -> None:
        if not self._samples or self.trainer.sanity_checking or not self.trainer.is_global_zero:
            return
        content, output = (torch.cat(parts) for parts in zip(*self._samples))
        # Contents on the top row, their stylized versions below.
        grid = make_grid(torch.cat([content, output]), nrow=content.shape[0], padding=4, pad_value=1.0)
        grid = grid.permute(1, 2, 0).float().numpy()  # (H, W, 3)
        samples_dir = Path(self.trainer.default_root_dir) / "samples"
        samples_dir.mkdir(parents=True, exist_ok=True)
        write_photo(samples_dir / f"step_{self.global_step:06d}.jpg", grid)
        for logger in self.loggers:
            if isinstance(logger, WandbLogger):
                logger.log_image(
                    "val/samples", [grid], step=self.global_step, caption=["top: content, bottom: stylized"]
                )

    def configure_optimizers(self):
        optimizer = self.optimizer(self.net.parameters())
        if self.scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler(optimizer), "interval": "step"}}
