import signal

import pytest
import pytorch_lightning as pl
import torch
from PIL import Image

from photostyle.networks.bilateral import BilateralNet
from photostyle.networks.residual import ResidualNet
from photostyle.training.callbacks import StopOnInterrupt
from photostyle.training.data import PhotoDataModule
from photostyle.training.loss import PhotorealStyleLoss
from photostyle.training.system import StyleTransferSystem
from photostyle.training.tensors import load

NETWORKS = {
    "residual": lambda: ResidualNet(base_channels=4, num_residual_blocks=1),
    "bilateral": lambda: BilateralNet(thumbnail_size=32, channels=4, grid_depth=2),
    "bilateral+style_colours": lambda: BilateralNet(thumbnail_size=32, channels=4, style_colours=1.0),
}


def make_system(style_photo, photoreal_weight=1.0, lr=1e-2, network="residual", sample_count=4):
    objective = PhotorealStyleLoss(["relu2_1"], {"relu1_1": 1.0, "relu2_1": 1.0}, photoreal_weight=photoreal_weight)
    return StyleTransferSystem(
        NETWORKS[network](),
        objective,
        str(style_photo),
        64,
        optimizer=lambda params: torch.optim.Adam(params, lr=lr),
        sample_count=sample_count,
    )


def validation_batch(photo_folder):
    data = PhotoDataModule(str(photo_folder), crop_size=32, num_workers=0, val_fraction=0.5)
    data.setup("validate")
    return next(iter(data.val_dataloader()))


def fit(system, photo_folder, tmp_path, steps):
    pl.seed_everything(0, workers=True)
    data = PhotoDataModule(str(photo_folder), crop_size=32, batch_size=2, num_workers=0)
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        default_root_dir=tmp_path,
        val_check_interval=steps,
        check_val_every_n_epoch=None,
    )
    trainer.fit(system, datamodule=data)
    return trainer


def test_style_targets_are_computed_once_and_kept_out_of_checkpoints(style_photo):
    system = make_system(style_photo)
    grams = system.loss.target_grams()
    assert set(grams) == {"relu1_1", "relu2_1"} and grams["relu1_1"].shape == (1, 64, 64)
    assert not [k for k in system.state_dict() if "gram" in k or "vgg" in k]


def test_a_network_that_uses_the_style_colours_gets_them_and_keeps_them_in_checkpoints(style_photo):
    system = make_system(style_photo, network="bilateral+style_colours")
    style = load(style_photo, max_side=64)
    torch.testing.assert_close(system.state_dict()["net.style_colours.style_mean"], style.mean(dim=(0, 2, 3)))


# The share of the style loss left after 30 steps: seeds 0 to 3 left 0.04 to 0.07 of it with the
# first two networks, and 0.76 to 0.91 with the global map, which starts at the style's colours.
LEFT_AFTER_30_STEPS = {"residual": 0.2, "bilateral": 0.2, "bilateral+style_colours": 0.95}


@pytest.mark.slow
@pytest.mark.parametrize("network", NETWORKS)
def test_training_lowers_the_style_loss_and_logs_each_term(style_photo, photo_folder, tmp_path, network):
    pl.seed_everything(0, workers=True)  # the network's start, whatever tests ran before in this process
    system = make_system(style_photo, network=network)
    batch = validation_batch(photo_folder)
    with torch.no_grad():
        before = system.loss(system.net(batch), batch)
    trainer = fit(system, photo_folder, tmp_path, steps=30)
    with torch.no_grad():
        after = system.loss(system.net(batch), batch)
    assert after["style"] < LEFT_AFTER_30_STEPS[network] * before["style"]
    for name in ("loss", "content", "style", "photoreal"):
        assert f"train/{name}" in trainer.logged_metrics and f"val/{name}" in trainer.logged_metrics
    samples = sorted((tmp_path / "samples").glob("*.jpg"))
    assert [p.name for p in samples] == ["step_000030.jpg"]


@pytest.mark.slow
def test_same_seed_gives_identical_weights(style_photo, photo_folder, tmp_path):
    systems = []
    for run_name in ("a", "b"):
        torch.manual_seed(123 if run_name == "a" else 456)  # whatever came before, the seed decides
        pl.seed_everything(0, workers=True)  # as train.py does, before building anything
        systems.append(make_system(style_photo))
        fit(systems[-1], photo_folder, tmp_path / run_name, steps=3)
    first, second = systems
    for (name, a), b in zip(first.net.state_dict().items(), second.net.state_dict().values()):
        assert torch.equal(a, b), name
    pl.seed_everything(0, workers=True)
    untrained = make_system(style_photo).net.state_dict()
    assert any(not torch.equal(untrained[name], a) for name, a in first.net.state_dict().items())  # it trained


@pytest.mark.slow
def test_photoreal_weight_keeps_outputs_locally_affine(style_photo, photo_folder, tmp_path):
    from photostyle.training.matting import matting_laplacian_energy

    batch = validation_batch(photo_folder)
    energies = []
    # From the same start, 20 steps: seeds 0 to 3 end at 0.03 to 0.30 of the energy without the
    # term. At lr 1e-2 and weight 3000 they ended anywhere from 0.6 to 3.8: the test passed only
    # while each run started from whatever the tests before it left in the random generator.
    for weight in (0.0, 3e4):
        pl.seed_everything(0, workers=True)
        system = make_system(style_photo, photoreal_weight=weight, lr=3e-3)
        fit(system, photo_folder, tmp_path / str(weight), steps=20)
        with torch.no_grad():
            energies.append(matting_laplacian_energy(batch, system.net(batch)).mean().item())
    assert energies[1] < 0.5 * energies[0]


def test_the_samples_show_sample_count_validation_photos_with_one_photo_a_batch(style_photo, photo_folder, tmp_path):
    data = PhotoDataModule(str(photo_folder), crop_size=32, batch_size=1, num_workers=0, val_fraction=0.5)
    trainer = pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.validate(make_system(style_photo, network="bilateral", sample_count=2), datamodule=data)
    with Image.open(tmp_path / "samples" / "step_000000.jpg") as sheet:
        # Two 32-pixel photos a row (contents above, outputs below), 4 pixels of padding around each.
        assert sheet.size == (2 * 36 + 4, 2 * 36 + 4)


def test_ctrl_c_is_handed_back_when_a_run_fails(style_photo, photo_folder, tmp_path):
    class FailsAtTheFirstStep(StyleTransferSystem):
        def training_step(self, batch, batch_idx):
            raise RuntimeError("the step fails")

    before = signal.getsignal(signal.SIGINT)
    system = make_system(style_photo)
    system.__class__ = FailsAtTheFirstStep
    stop = StopOnInterrupt()
    data = PhotoDataModule(str(photo_folder), crop_size=32, batch_size=2, num_workers=0)
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False, callbacks=[stop])
    with pytest.raises(RuntimeError, match="the step fails"):
        trainer.fit(system, datamodule=data)
    assert stop._previous_handler is before  # it did take Ctrl-C during the run ...
    assert signal.getsignal(signal.SIGINT) is before  # ... and gave it back when the run failed
