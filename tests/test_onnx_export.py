import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from photostyle.inference.runtime import StyleModel
from photostyle.training.onnx_export import export_onnx, max_abs_difference

from conftest import tiny_network


def test_graph_has_dynamic_sizes_metadata_and_a_recent_opset(tiny_model):
    model = onnx.load(str(tiny_model))
    onnx.checker.check_model(model)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[3] == 3 and all(isinstance(d, str) for d in dims[:3])  # (N, H, W, 3)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    metadata = {p.key: p.value for p in model.metadata_props}
    assert metadata["photostyle_version"] == "test" and metadata["training_steps"] == "0"


@pytest.mark.parametrize("size", [(64, 64), (97, 131), (5, 3)])
def test_onnxruntime_matches_pytorch(tiny_model, size):
    # Bytes out: a level may round the other way where float32 rounding lands next to a half.
    assert max_abs_difference(tiny_network(), tiny_model, [size]) <= 1 / 255


def test_runs_a_batch_of_bytes_and_the_runtime_wrapper(tiny_model):
    session = ort.InferenceSession(str(tiny_model), providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).integers(0, 256, (2, 20, 30, 3), dtype=np.uint8)  # (N, H, W, 3)
    (out,) = session.run(None, {"image": batch})
    with torch.no_grad():
        floats = torch.from_numpy(batch).permute(0, 3, 1, 2) / 255
        expected = (tiny_network()(floats).permute(0, 2, 3, 1).clamp(0, 1) * 255).round().numpy()
    assert out.dtype == np.uint8 and np.abs(out - expected).max() <= 1
    single = StyleModel(tiny_model)(batch[1] / 255)
    assert np.abs(single * 255 - expected[1]).max() <= 1
    assert StyleModel(tiny_model).metadata["network"] == "tiny"


def test_a_float32_interface_stays_available(tmp_path, tiny_model):
    path = tmp_path / "float.onnx"
    export_onnx(tiny_network(), path, {"photostyle_version": "test"}, pixels="float32")
    assert max_abs_difference(tiny_network(), path, [(20, 30)]) < 1e-4
    model = StyleModel(path)
    assert model.pixel_type == "float32"
    photo = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    difference = model.stylize(photo)[0].astype(int) - StyleModel(tiny_model).stylize(photo)[0]  # its uint8 twin
    assert np.abs(difference).max() <= 1
