import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from photostyle.inference.runtime import StyleModel
from photostyle.training.onnx_export import max_abs_difference

from conftest import tiny_network


def test_graph_has_dynamic_sizes_metadata_and_a_recent_opset(tiny_model):
    model = onnx.load(str(tiny_model))
    onnx.checker.check_model(model)
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[3] == 3 and all(isinstance(d, str) for d in dims[:3])  # (N, H, W, 3)
    metadata = {p.key: p.value for p in model.metadata_props}
    assert metadata["photostyle_version"] == "test" and metadata["training_steps"] == "0"


@pytest.mark.parametrize("size", [(64, 64), (97, 131), (5, 3)])
def test_onnxruntime_matches_pytorch(tiny_model, size):
    assert max_abs_difference(tiny_network(), tiny_model, [size]) < 1e-4


def test_runs_a_batch_and_the_runtime_wrapper(tiny_model):
    session = ort.InferenceSession(str(tiny_model), providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).random((2, 20, 30, 3), dtype=np.float32)  # (N, H, W, 3)
    (out,) = session.run(None, {"image": batch})
    with torch.no_grad():
        expected = tiny_network()(torch.from_numpy(batch).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy()
    assert np.abs(out - expected).max() < 1e-4
    single = StyleModel(tiny_model)(batch[1])
    assert np.abs(single - expected[1]).max() < 1e-4
    assert StyleModel(tiny_model).metadata["network"] == "tiny"
