"""Export a trained style network to ONNX: python export.py ckpt=RUN/checkpoints/last.ckpt out=model.onnx"""

from photostyle.errors import exit_quietly_on_ctrl_c

if __name__ == "__main__":
    exit_quietly_on_ctrl_c("export.py")  # before torch's and Lightning's imports, which take seconds


import hashlib
import json
import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

import photostyle
from photostyle.errors import PhotostyleError, exit_on_user_error
from photostyle.files import check_output_file, write_file
from photostyle.interface import VERSION_KEY
from photostyle.training.checkpoints import load_checkpoint, network_config, trained_network
from photostyle.training.onnx_export import max_abs_difference, onnx_model
from photostyle.training.overrides import exit_on_bad_overrides


def _style_fingerprint(path: str) -> str:
    file = Path(path)
    return f"{file.name} sha256:{hashlib.sha256(file.read_bytes()).hexdigest()[:16]}" if file.is_file() else file.name


def _check_settings(cfg: DictConfig) -> None:
    """export.yaml's values, each of its type (Hydra takes `overwrite=no` as the string "no")."""
    if not cfg.ckpt or not cfg.out:
        raise PhotostyleError("pass both ckpt=RUN_DIR/checkpoints/last.ckpt and out=model.onnx")
    if not isinstance(cfg.overwrite, bool):
        raise PhotostyleError(f"overwrite={cfg.overwrite} must be true or false")
    if not isinstance(cfg.opset, int) or isinstance(cfg.opset, bool):
        raise PhotostyleError(f"opset={cfg.opset} must be a whole number, e.g. 18")
    if not isinstance(cfg.tolerance, (int, float)) or isinstance(cfg.tolerance, bool):
        raise PhotostyleError(f"tolerance={cfg.tolerance} must be a number, e.g. 1e-3")
    sizes = cfg.check_sizes
    if not sizes or not all(
        len(size) == 2 and all(isinstance(side, int) and not isinstance(side, bool) and side >= 1 for side in size)
        for size in sizes
    ):
        raise PhotostyleError(f"check_sizes={sizes} must list [height, width] pairs of whole numbers, e.g. [[64, 64]]")


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error("export.py"):
        _check_settings(cfg)
        checkpoint = load_checkpoint(Path(cfg.ckpt))
        run = checkpoint["hyper_parameters"]
        net = trained_network(checkpoint, Path(cfg.ckpt))
        metadata = {
            VERSION_KEY: photostyle.__version__,
            "style_image": _style_fingerprint(run["style"]["image"]),
            "network": json.dumps(network_config(checkpoint), sort_keys=True),
            "training_steps": checkpoint.get("global_step", 0),
            "interface": "see photostyle/interface.py: image (N, H, W, 3) RGB "
            + ("uint8" if cfg.pixels == "uint8" else "float32 in [0, 1]"),
        }
        out = Path(cfg.out)
        if out.exists() and os.path.samefile(out, cfg.ckpt):
            raise PhotostyleError(f"out={out} is the checkpoint being exported; choose another out=")
        check_output_file(out, cfg.overwrite, option="out=", overwrite_option="overwrite=true")
        # Checked in memory before anything is written: a failed check leaves an older model in place.
        model = onnx_model(net, metadata, cfg.opset, cfg.pixels)
        difference = max_abs_difference(net, model, [tuple(size) for size in cfg.check_sizes])
        sizes = ", ".join(f"{h}x{w}" for h, w in cfg.check_sizes)
        # Bytes out: where float32 rounding lands next to a half, a level may round the other way.
        allowed = cfg.tolerance + (1 / 255 if cfg.pixels == "uint8" else 0)
        if not difference <= allowed:
            raise PhotostyleError(
                f"onnxruntime differs from PyTorch by {difference:.2e} (> {allowed:.2e}) at {sizes};"
                f" the export is wrong, {out} was not written"
            )
        write_file(out, model)
        print(
            f"wrote {out} ({cfg.pixels} pixels, opset {cfg.opset}); max |onnxruntime - PyTorch| = {difference:.2e}"
            f" at {sizes}"
        )


if __name__ == "__main__":
    exit_on_bad_overrides("export.py", Path(__file__).resolve().parent / "conf", "export", sys.argv[1:])
    main()
