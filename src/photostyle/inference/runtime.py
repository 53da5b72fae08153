"""Running an exported style model with onnxruntime alone (no torch import on this path)."""

from pathlib import Path

import numpy as np
import onnxruntime as ort

from photostyle.errors import PhotostyleError
from photostyle.interface import INPUT_NAME, OUTPUT_NAME

VERSION_KEY = "photostyle_version"


def default_providers() -> list[str]:
    """CUDA when this onnxruntime build has it, then the CPU."""
    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class StyleModel:
    """One onnxruntime session for a photostyle ONNX file, checked before first use."""

    def __init__(self, path: Path, threads: int | None = None, providers: list[str] | None = None):
        path = Path(path)
        if not path.is_file():
            raise PhotostyleError(
                f"model {path} does not exist;"
                f" export one with: python export.py ckpt=RUN/checkpoints/last.ckpt out={path}"
            )
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers or default_providers())
        except Exception as error:  # onnxruntime raises its own untyped errors for bad files
            reason = str(error).strip().splitlines()[0][:200]
            raise PhotostyleError(
                f"{path} is not a loadable ONNX model ({reason}); export it again with export.py"
            ) from None
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self._check(path)

    def _check(self, path: Path) -> None:
        if VERSION_KEY not in self.metadata:
            raise PhotostyleError(
                f"{path} is an ONNX model but not a photostyle one (no {VERSION_KEY} metadata);"
                " export it with export.py"
            )
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if [i.name for i in inputs] != [INPUT_NAME] or [o.name for o in outputs] != [OUTPUT_NAME]:
            raise PhotostyleError(
                f"{path} has inputs {[i.name for i in inputs]} and outputs {[o.name for o in outputs]}, "
                f"expected [{INPUT_NAME!r}] and [{OUTPUT_NAME!r}]; export it again with export.py"
            )
        shape, kind = inputs[0].shape, inputs[0].type
        if kind != "tensor(float)" or len(shape) != 4 or shape[3] != 3:
            raise PhotostyleError(
                f"{path} takes {kind} {shape}, expected float (N, H, W, 3); export it again with export.py"
            )

    def __call__(self, rgb: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """(H, W, 3) float RGB in [0, 1] -> stylized (H, W, 3) float32 in [0, 1], at `strength`
        (0 = the photo, 1 = the model's output; see blend)."""
        batch = np.ascontiguousarray(rgb[None], dtype=np.float32)  # (1, H, W, 3)
        (stylized,) = self.session.run([OUTPUT_NAME], {INPUT_NAME: batch})
        return blend(rgb, np.clip(stylized[0], 0.0, 1.0), strength)


def blend(photo, stylized, strength: float):
    """photo + strength * (stylized - photo), for numpy arrays or torch tensors alike.

    For the bilateral network this is exactly its output with every affine colour transform
    blended with the identity (wherever the output needed no clipping), so any strength is
    still a photograph.
    """
    if strength == 1:
        return stylized
    return photo + strength * (stylized - photo)
