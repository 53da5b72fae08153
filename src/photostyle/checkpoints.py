"""Reading training checkpoints safely (tensors and plain data only, never pickled code)."""

from pathlib import Path

import torch

from photostyle.errors import PhotostyleError

NET_PREFIX = "net."


def load_checkpoint(path: Path) -> dict:
    """A Lightning checkpoint written by train.py, loaded with weights_only=True."""
    path = Path(path)
    if not path.is_file():
        raise PhotostyleError(f"checkpoint {path} does not exist; pass ckpt=RUN_DIR/checkpoints/last.ckpt")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        reason = str(error).strip().splitlines()[0][:200]
        raise PhotostyleError(f"{path} is not a safe, readable training checkpoint ({reason}); pass a .ckpt written by train.py") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "model" not in checkpoint.get("hyper_parameters", {}):
        raise PhotostyleError(f"{path} is not a photostyle training checkpoint (no state_dict or saved config); pass a .ckpt written by train.py")
    return checkpoint


def network_state(checkpoint: dict) -> dict[str, torch.Tensor]:
    """The style network's own weights from a checkpoint's state dict."""
    return {k[len(NET_PREFIX):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(NET_PREFIX)}
