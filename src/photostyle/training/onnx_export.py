"""Exporting a style network to ONNX and checking onnxruntime against PyTorch."""

import warnings
from math import inf
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxscript import opset18 as op
from torch import nn

from photostyle.errors import PhotostyleError
from photostyle.files import atomic_write
from photostyle.interface import IMAGE, KEEP, LOOK, PIXEL_TYPES, PREVIOUS_LOOK, ROWS, STYLIZED
from photostyle.networks.bilateral import BilateralNet
from photostyle.networks.rounding import to_bytes


def _quantize_linear(values):
    """to_bytes in ONNX: QuantizeLinear with scale 1 and zero point 0 rounds half to even and saturates."""
    zero = onnx.helper.make_tensor("zero", onnx.TensorProto.UINT8, [], [0])
    return op.QuantizeLinear(values, op.Constant(value_float=1.0), op.Constant(value=zero))


CUSTOM_OPERATIONS = {torch.ops.photostyle.to_bytes.default: _quantize_linear}


def _as_float(image: torch.Tensor) -> torch.Tensor:
    return image if image.is_floating_point() else image.to(torch.float32) / 255


class Deployed(nn.Module):
    """Any style network behind the deployed interface (interface.py): (N, H, W, 3) in and out,
    the layout of decoded image arrays, so that neither side of onnxruntime transposes whole
    photos; bytes in give bytes out, rounded."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        out = self.net(_as_float(image).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return out if image.is_floating_point() else to_bytes(out * 255)


class DeployedLook(nn.Module):
    """The bilateral network behind the deployed interface with its look exposed (interface.py)."""

    def __init__(self, net: BilateralNet):
        super().__init__()
        self.net = net

    def forward(
        self, image: torch.Tensor, rows: torch.Tensor, previous_look: torch.Tensor, keep: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        own = self.net.look(image)
        look = own + keep * (previous_look - own)
        # index_select, not a slice: the band's size then comes from the rows' shape, which
        # stays a dynamic dimension of the graph.
        band = image.index_select(1, rows)
        return self.net.apply(look, band, rows, image.shape[1]), look


def deployed(net: nn.Module) -> nn.Module:
    return (DeployedLook if isinstance(net, BilateralNet) else Deployed)(net).eval()


def example_inputs(net: nn.Module, pixels: str, image: torch.Tensor) -> dict[str, torch.Tensor]:
    """The deployed model's inputs for a float image (N, H, W, 3) in [0, 1]: all its rows, no previous look."""
    if pixels == "uint8":
        image = (image * 255).round().to(torch.uint8)
    if not isinstance(net, BilateralNet):
        return {IMAGE: image}
    with torch.no_grad():
        look_shape = net.look(image[:, :16, :16]).shape
    return {
        IMAGE: image,
        ROWS: torch.arange(image.shape[1]),
        PREVIOUS_LOOK: torch.zeros(look_shape),
        KEEP: torch.tensor(0.0),
    }


def export_onnx(net: nn.Module, path: Path, metadata: dict[str, str], opset: int = 18, pixels: str = "uint8") -> None:
    """Write `net` as ONNX (see onnx_model), atomically."""
    with atomic_write(Path(path)) as stream:
        stream.write(onnx_model(net, metadata, opset, pixels))


def onnx_model(net: nn.Module, metadata: dict[str, str], opset: int = 18, pixels: str = "uint8") -> bytes:
    """`net` as a checked ONNX model with dynamic batch, height and width, plus metadata."""
    if pixels not in PIXEL_TYPES:
        raise PhotostyleError(f"pixels={pixels} is not one of {', '.join(PIXEL_TYPES)}")
    module = deployed(net)
    # Batch 2, unequal sides and fewer rows than the height: torch.export would fix a size-1
    # or repeated example dim.
    inputs = example_inputs(net, pixels, torch.rand(2, 64, 80, 3))
    batch = torch.export.Dim("batch", max=1024)
    dims = {IMAGE: {0: batch, 1: torch.export.Dim("height", max=32768), 2: torch.export.Dim("width", max=32768)}}
    if ROWS in inputs:
        inputs[ROWS] = torch.arange(5, 50)
        dims |= {ROWS: {0: torch.export.Dim("band", max=32768)}, PREVIOUS_LOOK: {0: batch}, KEEP: None}
    outputs = [STYLIZED, LOOK] if ROWS in inputs else [STYLIZED]
    with torch.no_grad(), warnings.catch_warnings():
        # The image and the previous look share the batch dimension on purpose: the exporter's note
        # that it names the axis once is no news to a user.
        warnings.filterwarnings("ignore", message="The axis name: batch will not be used")
        program = torch.onnx.export(
            module,
            tuple(inputs.values()),
            input_names=list(inputs),
            output_names=outputs,
            opset_version=opset,
            dynamo=True,
            dynamic_shapes=dims,
            custom_translation_table=CUSTOM_OPERATIONS,
            verbose=False,
        )
    model = program.model_proto
    written = next(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
    if written != opset:  # the exporter raises a lower one to the lowest it can write
        raise PhotostyleError(f"opset={opset}: this network exports as opset {written}; pass opset={written}")
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=str(value))
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def max_abs_difference(net: nn.Module, model: Path | bytes, sizes: list[tuple[int, int]]) -> float:
    """Largest |onnxruntime - PyTorch| of the stylized photo, in [0, 1] units, over random images
    of the given (height, width) sizes, the same ones every call (for a uint8 model, one rounding
    flip is 1 / 255).

    `model`: an .onnx file, or the model's bytes (checked before anything is written)."""
    source = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    pixels = "uint8" if session.get_inputs()[0].type == PIXEL_TYPES["uint8"] else "float32"
    generator = torch.Generator().manual_seed(0)
    module = deployed(net)
    worst = 0.0
    for height, width in sizes:
        inputs = example_inputs(net, pixels, torch.rand(1, height, width, 3, generator=generator))
        with torch.no_grad():
            expected = module(*inputs.values())
        expected = expected[0] if isinstance(expected, tuple) else expected
        actual = session.run([STYLIZED], {name: value.numpy() for name, value in inputs.items()})[0]
        difference = np.abs(actual.astype(np.float32) - expected.numpy().astype(np.float32)).max()
        # A NaN (from NaN weights) would lose to any number in max(): it counts as the worst difference.
        worst = max(worst, float(difference) / (255 if pixels == "uint8" else 1) if np.isfinite(difference) else inf)
    return worst
