"""How long training waits for its data: list, split and first batch on a large synthetic folder.

    python -m benchmarks.data_startup [--files 10000] [--workers 2]

Writes --files small JPEGs (64x48, 100 per folder) into a temporary folder, then times the
data module's steps as train.py runs them: prepare_data (walk the folder, write the photo
list), setup (read the list, fixed validation split) and the first training batch (worker
processes decode and crop). Nothing is decoded before the first batch.
"""

import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.basics import benchmark_parser
from photostyle.training.data import PhotoDataModule


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "photos"
        rng = np.random.default_rng(0)
        pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        for index in range(args.files):
            path = root / f"{index // 100:04d}" / f"{index:06d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.roll(pixels, index, axis=1)).save(path, quality=80)
        data = PhotoDataModule(
            str(root),
            crop_size=32,
            batch_size=4,
            load_size=64,
            num_workers=args.workers,
            list_cache=str(Path(folder) / "run" / "photos.txt"),
        )
        times = {}
        start = time.perf_counter()
        data.prepare_data()
        times["prepare_data: walk the folder, write the list"] = time.perf_counter() - start
        start = time.perf_counter()
        data.setup("fit")
        times["setup: read the list, split"] = time.perf_counter() - start
        start = time.perf_counter()
        next(iter(data.train_dataloader()))
        times[f"first batch ({args.workers} worker processes)"] = time.perf_counter() - start
    print(
        f"{args.files} photos in {-(-args.files // 100)} folders; "
        f"{len(data.train_set.photos)} train, {len(data.val_set.photos)} val"
    )
    print("| step | seconds |\n|---|---|")
    for step, seconds in times.items():
        print(f"| {step} | {seconds:.3f} |")
    print(f"| total before the first step | {sum(times.values()):.3f} |")


if __name__ == "__main__":
    main()
