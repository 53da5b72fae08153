"""Training data: a folder of everyday photos as random crops, with a fixed validation split."""

import hashlib
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from photostyle.errors import PhotostyleError
from photostyle.images import IMAGE_EXTENSIONS, read_photo


def list_photos(root: Path) -> list[Path]:
    """Every photo below root (recursive, hidden files skipped), in a stable order."""
    return sorted(
        path for path in root.rglob("*")
        if path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".") and path.is_file()
    )


def split_photos(photos: list[Path], root: Path, val_fraction: float) -> tuple[list[Path], list[Path]]:
    """(train, val) by a hash of each relative path: fixed across runs and machines, and
    adding photos to the folder never moves an old one between the two sets."""
    def key(path: Path) -> str:
        return hashlib.sha1(path.relative_to(root).as_posix().encode()).hexdigest()

    by_hash = sorted(photos, key=key)
    count = max(1, round(val_fraction * len(photos))) if len(photos) > 1 and val_fraction > 0 else 0
    return sorted(by_hash[count:]), sorted(by_hash[:count])


class PhotoCrops(Dataset):
    """Photos as (3, H, W) float tensors in [0, 1] after `transform`; `length` may exceed the
    photo count so that one epoch of a small folder is still many steps."""

    def __init__(self, photos: list[Path], transform: v2.Transform, load_size: int, length: int | None = None):
        self.photos, self.transform, self.load_size = photos, transform, load_size
        self.length = max(length or 0, len(photos))
        self.unreadable: set[Path] = set()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        # A corrupt photo is skipped (and reported once), not fatal: try the next one.
        for offset in range(len(self.photos)):
            path = self.photos[(index + offset) % len(self.photos)]
            try:
                photo = read_photo(path, max_side=self.load_size)
            except PhotostyleError as error:
                if path not in self.unreadable:
                    self.unreadable.add(path)
                    warnings.warn(f"skipping unreadable training photo: {error}", stacklevel=1)
                continue
            return self.transform(torch.from_numpy(photo.rgb).permute(2, 0, 1))  # (3, H, W)
        raise PhotostyleError("none of the training photos can be read; check data.root")


class PhotoDataModule(pl.LightningDataModule):
    """Random crops and flips of the photos below `root` (jpg, png, webp, bmp, tiff)."""

    def __init__(self, root: str, crop_size: int = 256, batch_size: int = 4, val_fraction: float = 0.1,
                 min_scale: float = 0.25, load_size: int = 768, epoch_size: int = 1000, num_workers: int = 1):
        super().__init__()
        self.root = Path(root)
        if not self.root.is_dir():
            raise PhotostyleError(f"data.root={root} is not a folder; point it at a folder of photos")
        for name, value in [("crop_size", crop_size), ("batch_size", batch_size), ("load_size", load_size), ("epoch_size", epoch_size)]:
            if value < 1:
                raise PhotostyleError(f"data.{name}={value} must be a positive whole number")
        if not 0 <= val_fraction < 1 or not 0 < min_scale <= 1 or num_workers < 0:
            raise PhotostyleError(f"data.val_fraction={val_fraction} must be in [0, 1), data.min_scale={min_scale} in (0, 1], "
                                  f"data.num_workers={num_workers} >= 0")
        self.crop_size, self.batch_size, self.val_fraction = crop_size, batch_size, val_fraction
        self.min_scale, self.load_size, self.epoch_size, self.num_workers = min_scale, load_size, epoch_size, num_workers

    def setup(self, stage: str | None = None) -> None:
        photos = list_photos(self.root)
        if not photos:
            raise PhotostyleError(f"no photos in data.root={self.root} (looked for {' '.join(IMAGE_EXTENSIONS)}); add some or point data.root elsewhere")
        train, val = split_photos(photos, self.root, self.val_fraction)
        augment = v2.Compose([
            v2.RandomResizedCrop(self.crop_size, scale=(self.min_scale, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
        ])
        centre = v2.Compose([v2.Resize(self.crop_size, antialias=True), v2.CenterCrop(self.crop_size)])
        self.train_set = PhotoCrops(train, augment, self.load_size, self.epoch_size)
        self.val_set = PhotoCrops(val or train[:1], centre, self.load_size)

    def _loader(self, dataset: Dataset, shuffle: bool) -> DataLoader:
        return DataLoader(dataset, self.batch_size, shuffle=shuffle, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0, drop_last=shuffle)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
