"""Exporting a style network to ONNX and checking onnxruntime against PyTorch."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from photostyle.files import atomic_write
from photostyle.interface import INPUT_NAME, OUTPUT_NAME


class ChannelsLast(nn.Module):
    """A style network behind the deployed interface: (N, H, W, 3) in and out, the layout of
    decoded image arrays, so that neither side of onnxruntime transposes whole photos."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def export_onnx(net: nn.Module, path: Path, metadata: dict[str, str], opset: int = 18) -> None:
    """Write `net` as ONNX with dynamic batch, height and width, plus metadata, atomically."""
    net = ChannelsLast(net).eval()
    # Batch 2 and unequal sides: torch.export would fix a size-1 or repeated example dim.
    example = torch.rand(2, 64, 80, 3)
    dims = {
        0: torch.export.Dim("batch", max=1024),
        1: torch.export.Dim("height", max=32768),
        2: torch.export.Dim("width", max=32768),
    }
    with torch.no_grad():
        program = torch.onnx.export(
            net,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            opset_version=opset,
            dynamo=True,
            dynamic_shapes={"image": dims},
            verbose=False,
        )
    model = program.model_proto
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=str(value))
    onnx.checker.check_model(model, full_check=True)
    with atomic_write(Path(path)) as stream:
        stream.write(model.SerializeToString())


def max_abs_difference(net: nn.Module, path: Path, sizes: list[tuple[int, int]], seed: int = 0) -> float:
    """Largest |onnxruntime - PyTorch| over random images of the given (height, width) sizes."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    deployed = ChannelsLast(net).eval()
    worst = 0.0
    for height, width in sizes:
        image = torch.rand(1, height, width, 3, generator=generator)
        with torch.no_grad():
            expected = deployed(image).numpy()
        (actual,) = session.run([OUTPUT_NAME], {INPUT_NAME: image.numpy()})
        worst = max(worst, float(np.abs(actual - expected).max()))
    return worst
