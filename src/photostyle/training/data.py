"""Training data: a folder of everyday photos as random crops, with a fixed validation split."""

import multiprocessing
import signal
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision.transforms import v2

from photostyle.errors import PhotostyleError
from photostyle.files import write_file
from photostyle.images import IMAGE_EXTENSIONS, read_photo
from photostyle.training.photo_list import find_training_photos, is_glob, source_folder, split_photos
from photostyle.training.tensors import to_tensor

# The side a photo is decoded at to tell whether it is readable: small, so it costs little.
PROBE_SIDE = 8
# Independent random streams drawn from the run's seed.
PHOTO_ORDER_STREAM, CROP_STREAM = 0, 1


def _problem(photo: Path) -> str:
    """Why photo does not decode as the loader's workers will read it ("" when it does); a JPEG
    decodes at a small size, cheaply."""
    try:
        read_photo(photo, max_side=PROBE_SIDE)
    except PhotostyleError as error:
        return str(error)
    return ""


def _ignore_ctrl_c(worker_id: int) -> None:
    """A terminal's Ctrl-C reaches the loader's worker processes too; the main process stops the
    run after the step in progress (StopOnInterrupt), so a worker must not die of it first."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class PhotoCrops(Dataset):
    """Photos as (3, H, W) float tensors in [0, 1] after `transform`, one per photo."""

    def __init__(self, photos: list[Path], transform: v2.Transform, load_size: int):
        self.photos, self.transform, self.load_size = photos, transform, load_size
        self.unreadable: set[Path] = set()  # per worker process: each warns once per photo
        # Shared memory, so the main process sees what every worker process skipped.
        self.skipped = multiprocessing.get_context("spawn").Value("i", 0)

    def __len__(self) -> int:
        return len(self.photos)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.transform(self._read(index))

    def _read(self, index: int) -> torch.Tensor:
        """Photo `index` as (3, H, W); a corrupt one is skipped (and reported once) for the next."""
        for offset in range(len(self.photos)):
            path = self.photos[(index + offset) % len(self.photos)]
            try:
                photo = read_photo(path, max_side=self.load_size)
            except PhotostyleError as error:
                if path not in self.unreadable:
                    self.unreadable.add(path)
                    with self.skipped.get_lock():
                        self.skipped.value += 1
                    warnings.warn(f"skipping unreadable training photo: {error}", stacklevel=1)
                continue
            return to_tensor(photo.rgb, copy=False)[0]
        raise PhotostyleError("none of the training photos can be read; check data.root")


class TrainingCrops(PhotoCrops):
    """Sample number n of a run -> a random crop of one photo, a pure function of (seed, n).

    The whole run's stream of samples is fixed up front: a run stopped and resumed from a
    checkpoint draws the same crops as one that never stopped, whatever the worker count.
    Every pass over the photos visits each once, in its own shuffled order.
    """

    def __init__(self, photos: list[Path], transform: v2.Transform, load_size: int, seed: int):
        super().__init__(photos, transform, load_size)
        self.seed = seed
        self._order: tuple[int, np.ndarray] | None = None  # (pass, photo order), one pass cached

    def _photo_order(self, pass_number: int) -> np.ndarray:
        if self._order is None or self._order[0] != pass_number:
            order = np.random.default_rng([self.seed, PHOTO_ORDER_STREAM, pass_number]).permutation(len(self.photos))
            self._order = (pass_number, order)
        return self._order[1]

    def __getitem__(self, sample: int) -> torch.Tensor:
        pass_number, position = divmod(sample, len(self.photos))
        photo = self._read(int(self._photo_order(pass_number)[position]))
        crop_seed = np.random.SeedSequence([self.seed, CROP_STREAM, sample]).generate_state(1)[0]
        # The transforms draw from torch's global generator: seed a private copy of it per sample.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(crop_seed))
            return self.transform(photo)


class RunSampler(Sampler[int]):
    """One epoch's sample numbers, continuing the run's stream after `batches_done()` batches.

    Batches, not epochs, index the stream, so a run resumed mid-epoch from a checkpoint
    (where Lightning starts a fresh loader) carries on exactly where it stopped. Process
    `rank` of `world_size` takes every world_size-th batch of the stream.
    """

    def __init__(
        self, batches: int, batch_size: int, batches_done: Callable[[], int], rank: int = 0, world_size: int = 1
    ):
        self.batches, self.batch_size, self.batches_done = batches, batch_size, batches_done
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return self.batches * self.batch_size

    def __iter__(self) -> Iterator[int]:
        first = self.batches_done()
        for batch in range(first, first + self.batches):
            start = (batch * self.world_size + self.rank) * self.batch_size
            yield from range(start, start + self.batch_size)


class PhotoDataModule(pl.LightningDataModule):
    """Random crops and flips of the photos `root` names (see find_training_photos), drawn
    as a fixed stream from `seed` (see TrainingCrops and RunSampler).

    The photo list is made once, by prepare_data (one process per node under DDP), and kept
    in `list_cache` (one path per line), which every process's setup then reads; photos are
    decoded in the loader's worker processes, and a corrupt one is skipped with a warning.
    """

    def __init__(
        self,
        root: str,
        crop_size: int = 384,
        batch_size: int = 1,
        val_fraction: float = 0.1,
        min_scale: float = 1.0,
        load_size: int = 768,
        epoch_size: int = 1000,
        num_workers: int = 1,
        list_cache: str | None = None,
        seed: int = 0,
    ):
        super().__init__()
        self.source, self.list_cache = str(root), Path(list_cache) if list_cache else None
        if not str(root).strip():  # what data.root=$PHOTOS gives with the variable unset: not the current folder
            raise PhotostyleError("data.root is empty; point it at the folder that holds your photos")
        if not (Path(root).exists() or is_glob(str(root))):
            raise PhotostyleError(
                f"data.root={root} does not exist; point it at a folder of photos (or a glob pattern or list file)"
            )
        # How small a crop the loss can take is the loss's to say (StyleTransferSystem.on_fit_start).
        for name, value in [
            ("crop_size", crop_size),
            ("batch_size", batch_size),
            ("load_size", load_size),
            ("epoch_size", epoch_size),
        ]:
            if value < 1:
                raise PhotostyleError(f"data.{name}={value} must be a positive whole number")
        if load_size < crop_size:  # each crop would be a blurred enlargement of a small photo
            raise PhotostyleError(
                f"data.load_size={load_size} must be at least data.crop_size={crop_size}; raise data.load_size too"
            )
        if not 0 <= val_fraction < 1 or not 0 < min_scale <= 1 or num_workers < 0:
            raise PhotostyleError(
                f"data.val_fraction={val_fraction} must be in [0, 1), data.min_scale={min_scale} in (0, 1], "
                f"data.num_workers={num_workers} >= 0"
            )
        self.crop_size, self.batch_size, self.val_fraction = crop_size, batch_size, val_fraction
        self.min_scale, self.load_size, self.epoch_size, self.num_workers = (
            min_scale,
            load_size,
            epoch_size,
            num_workers,
        )
        self.seed = seed

    def _list_header(self) -> str:
        return f"# photos of data.root={self.source}"

    def _cached_list(self) -> list[Path] | None:
        """The photo list from list_cache, or None when there is none for this data.root."""
        if not (self.list_cache and self.list_cache.is_file()):
            return None
        lines = self.list_cache.read_text().splitlines()
        if not lines or lines[0] != self._list_header():
            return None
        return [Path(line) for line in lines[1:] if line]

    def prepare_data(self) -> None:
        if self.list_cache and self._cached_list() is None:
            photos = find_training_photos(self.source)
            try:
                write_file(self.list_cache, "".join(f"{line}\n" for line in [self._list_header(), *photos]).encode())
            except PhotostyleError as error:
                raise PhotostyleError(f"data.list_cache: {error}") from None

    def setup(self, stage: str | None = None) -> None:
        photos = self._cached_list()
        if photos is None:
            photos = find_training_photos(self.source)
        if not photos:
            raise PhotostyleError(
                f"no photos in data.root={self.source} (looked for {' '.join(IMAGE_EXTENSIONS)});"
                " add some or point data.root elsewhere"
            )
        train, val = split_photos(photos, source_folder(self.source), self.val_fraction)
        if not train:
            raise PhotostyleError(
                f"data.val_fraction={self.val_fraction} leaves none of the {len(photos)} photos of"
                f" data.root={self.source} to train on; lower it, or add photos"
            )
        # Here, not in a loader worker, whose error would come wrapped in the worker's traceback.
        problems = []
        for photo in train:  # up to the first readable one
            if not (problem := _problem(photo)):
                break
            problems.append(problem)
        else:
            raise PhotostyleError(
                f"no training photo of data.root={self.source} can be read ({len(train)} tried;"
                f" the first: {problems[0]})"
            )
        augment = v2.Compose(
            [
                v2.RandomResizedCrop(self.crop_size, scale=(self.min_scale, 1.0), antialias=True),
                v2.RandomHorizontalFlip(),
            ]
        )
        centre = v2.Compose([v2.Resize(self.crop_size, antialias=True), v2.CenterCrop(self.crop_size)])
        self.train_set = TrainingCrops(train, augment, self.load_size, self.seed)
        self.val_set = PhotoCrops(val or train[:1], centre, self.load_size)

    def _loader(self, dataset: Dataset, sampler: Sampler[int] | None = None) -> DataLoader:
        return DataLoader(
            dataset,
            self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            worker_init_fn=_ignore_ctrl_c,
        )

    def _batches_done(self) -> int:
        """Training batches this process has had so far in the run (restored with the checkpoint on resume)."""
        trainer = self.trainer
        return trainer.global_step * trainer.accumulate_grad_batches if trainer else 0

    def skipped_photos(self) -> int:
        """How many times a worker process met an unreadable photo and skipped it (each worker counts a photo once)."""
        return sum(
            dataset.skipped.value
            for dataset in (getattr(self, "train_set", None), getattr(self, "val_set", None))
            if dataset
        )

    def train_dataloader(self) -> DataLoader:
        rank, world_size = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        # epoch_size samples per epoch over all processes together.
        batches = max(1, self.epoch_size // (self.batch_size * world_size))
        return self._loader(self.train_set, RunSampler(batches, self.batch_size, self._batches_done, rank, world_size))

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)
