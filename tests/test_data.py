import shutil
import warnings
from pathlib import Path

import pytest
import torch

from photostyle.errors import PhotostyleError
from photostyle.photo_folders import list_photos
from photostyle.training.data import PhotoDataModule, RunSampler
from photostyle.training.photo_list import find_training_photos, source_folder, split_photos

from conftest import PHOTO_FOLDER_PHOTOS, save_photo


def test_lists_every_format_recursively(photo_folder):
    (photo_folder / ".hidden.png").write_bytes(b"x")
    (photo_folder / "readme.txt").write_text("x")
    names = [p.name for p in list_photos(photo_folder)]
    assert names == [Path(name).name for name in PHOTO_FOLDER_PHOTOS]


def test_a_link_back_up_the_folder_tree_is_followed_once(photo_folder):
    (photo_folder / "sub" / "up").symlink_to(photo_folder, target_is_directory=True)  # once: ELOOP, a traceback
    names = [p.name for p in list_photos(photo_folder)]
    assert names == [Path(name).name for name in PHOTO_FOLDER_PHOTOS]


def test_a_link_to_itself_costs_only_itself(photo_folder):
    (photo_folder / "zz.jpg").symlink_to(photo_folder / "zz.jpg")  # its type cannot be told: ELOOP
    with pytest.warns(UserWarning, match="skipping .*zz.jpg: Too many levels of symbolic links"):
        names = [p.name for p in list_photos(photo_folder)]
    assert names == [Path(name).name for name in PHOTO_FOLDER_PHOTOS]  # once, the rest of the folder went too


def test_a_list_cache_that_cannot_be_written_is_one_line(photo_folder, tmp_path):
    (tmp_path / "a_file").write_text("x")
    for cache in (tmp_path / "a_file" / "photos.txt", tmp_path / "a_file" / "sub" / "photos.txt"):
        data = PhotoDataModule(str(photo_folder), crop_size=16, num_workers=0, list_cache=str(cache))
        with pytest.raises(PhotostyleError, match=r"list_cache: cannot write .*photos.txt: .*a_file is a file, wh"):
            data.prepare_data()


def test_validation_split_is_fixed_and_keeps_training_photos_out_of_val_when_photos_are_added(tmp_path):
    root = tmp_path / "photos"
    for i in range(20):
        save_photo(root / f"p{i:02d}.png", 8, 8, i)
    train, val = split_photos(list_photos(root), root, 0.2)
    assert len(val) == 4 and not set(train) & set(val) and len(train) + len(val) == 20
    assert split_photos(list_photos(root), root, 0.2) == (train, val)
    added = [root / f"p{i:02d}.png" for i in range(20, 22)]  # 4.4 photos' worth of val: the count stays 4
    for i, path in enumerate(added):
        save_photo(path, 8, 8, 20 + i)
    train2, val2 = split_photos(list_photos(root), root, 0.2)
    assert len(val2) == 4 and set(val2) <= set(val) | set(added)  # no old training photo became a validation one
    # The split depends on relative paths, not where the folder lives.
    shutil.copytree(root, tmp_path / "moved")
    _, moved_val = split_photos(list_photos(tmp_path / "moved"), tmp_path / "moved", 0.2)
    assert [p.name for p in moved_val] == [p.name for p in val2]


def test_random_crops_and_fixed_validation_crops(photo_folder):
    data = PhotoDataModule(
        str(photo_folder), crop_size=24, batch_size=3, val_fraction=0.3, epoch_size=12, num_workers=0
    )
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch.shape == (3, 3, 24, 24) and batch.dtype == torch.float32
    assert 0 <= batch.min() and batch.max() <= 1
    assert len(data.train_dataloader()) == 4  # epoch_size samples per epoch, even from a small folder
    first, second = next(iter(data.val_dataloader())), next(iter(data.val_dataloader()))
    assert torch.equal(first, second) and first.shape[1:] == (3, 24, 24)
    torch.manual_seed(0)
    a = data.train_set[0]
    torch.manual_seed(1)
    assert torch.equal(a, data.train_set[0])  # a sample is fixed by the run's seed and its number...
    assert not torch.equal(a, data.train_set[1])  # ...and random crops and flips vary between samples
    other_seed = PhotoDataModule(str(photo_folder), crop_size=24, batch_size=3, val_fraction=0.3, num_workers=0, seed=1)
    other_seed.setup("fit")
    assert not torch.equal(a, other_seed.train_set[0])


def test_every_pass_over_the_photos_visits_each_once_in_its_own_order(photo_folder):
    data = PhotoDataModule(str(photo_folder), crop_size=8, val_fraction=0, num_workers=0)
    data.setup("fit")
    count = len(data.train_set.photos)
    first, second = data.train_set._photo_order(0), data.train_set._photo_order(1)
    assert sorted(first) == sorted(second) == list(range(count)) and list(first) != list(second)


def test_the_sampler_continues_the_run_and_gives_each_process_its_own_batches():
    done = 0
    sampler = RunSampler(batches=3, batch_size=2, batches_done=lambda: done)
    assert list(sampler) == [0, 1, 2, 3, 4, 5] and len(sampler) == 6
    done = 3  # a resumed run, or the next epoch, carries on the stream
    assert list(sampler) == [6, 7, 8, 9, 10, 11]
    ranks = [list(RunSampler(2, 2, lambda: 0, rank, world_size=2)) for rank in (0, 1)]
    assert ranks == [[0, 1, 4, 5], [2, 3, 6, 7]]


def test_corrupt_photos_are_skipped_with_a_warning(photo_folder):
    (photo_folder / "broken.jpg").write_bytes(b"\xff\xd8 broken")
    data = PhotoDataModule(str(photo_folder), crop_size=16, val_fraction=0, num_workers=0)
    data.setup("fit")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        crops = [data.train_set[sample] for sample in range(len(data.train_set.photos))]  # one pass: every photo once
    assert all(crop.shape == (3, 16, 16) for crop in crops)
    assert [str(w.message) for w in caught if "broken.jpg" in str(w.message)] and data.skipped_photos() == 1


def test_a_listed_name_too_long_for_the_file_system_is_skipped_like_a_corrupt_photo(photo_folder, tmp_path):
    listing = tmp_path / "photos.txt"
    listing.write_text(f"{'x' * 300}.jpg\n{photo_folder / 'a.jpg'}\n")  # once: OSError, a traceback
    data = PhotoDataModule(str(listing), crop_size=16, val_fraction=0, num_workers=0)
    data.setup("fit")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        crops = [data.train_set[sample] for sample in range(2)]
    assert all(crop.shape == (3, 16, 16) for crop in crops) and data.skipped_photos() == 1
    assert any("File name too long" in str(w.message) for w in caught)


def test_bad_folders_and_values_are_clear_errors(tmp_path):
    with pytest.raises(PhotostyleError, match="missing does not exist"):
        PhotoDataModule(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(PhotostyleError, match="no photos"):
        PhotoDataModule(str(tmp_path / "empty")).setup("fit")
    with pytest.raises(PhotostyleError, match="batch_size"):
        PhotoDataModule(str(tmp_path / "empty"), batch_size=0)


def test_a_glob_or_a_list_file_names_the_photos(photo_folder, tmp_path):
    every = find_training_photos(str(photo_folder))
    assert len(every) == 6
    assert [p.name for p in find_training_photos(f"{photo_folder}/**/*.png")] == ["b.png"]
    listing = tmp_path / "photos.txt"
    listing.write_text("# chosen photos\nphotos/a.jpg\n\nphotos/sub/c.webp\n")
    assert find_training_photos(str(listing)) == [tmp_path / "photos/a.jpg", tmp_path / "photos/sub/c.webp"]
    assert source_folder(f"{photo_folder}/**/*.png") == photo_folder
    with pytest.raises(PhotostyleError, match="neither a folder"):
        find_training_photos(str(tmp_path / "nothing"))


def test_hidden_folders_are_skipped_and_the_list_is_made_once(photo_folder, tmp_path):
    save_photo(photo_folder / ".thumbnails" / "x.jpg", 20, 20)
    assert ".thumbnails" not in {p.parent.name for p in list_photos(photo_folder)}
    cache = tmp_path / "run" / "photos.txt"
    data = PhotoDataModule(str(photo_folder), crop_size=16, val_fraction=0, num_workers=0, list_cache=str(cache))
    data.prepare_data()
    header, *listed = cache.read_text().splitlines()
    assert len(listed) == 6
    # Every process's setup reads the list instead of walking the folder again...
    cache.write_text(f"{header}\n{listed[0]}\n")
    data.setup("fit")
    assert len(data.train_set.photos) == 1
    # ...but a list made for another data.root is made again, not trusted.
    other = PhotoDataModule(
        str(photo_folder / "sub"), crop_size=16, val_fraction=0, num_workers=0, list_cache=str(cache)
    )
    other.prepare_data()
    other.setup("fit")
    assert len(other.train_set.photos) == 3


def test_worker_processes_skip_corrupt_photos_and_the_main_process_counts_them(photo_folder):
    for name in ("broken1.jpg", "broken2.png"):
        (photo_folder / name).write_bytes(b"\xff\xd8 broken")
    data = PhotoDataModule(str(photo_folder), crop_size=16, batch_size=8, val_fraction=0, epoch_size=8, num_workers=2)
    data.setup("fit")
    batches = list(data.train_dataloader())
    assert sum(batch.shape[0] for batch in batches) == 8  # every sample arrived, none was lost to the broken files
    assert 2 <= data.skipped_photos() <= 4  # each broken photo, once per worker that met it
