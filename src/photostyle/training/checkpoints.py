"""Reading training checkpoints, and other torch files, safely (tensors and plain data only, never
pickled code)."""

import warnings
from pathlib import Path

import torch
from torch import nn

from photostyle.errors import PhotostyleError, first_line, permission_denied, unreadable_reason
from photostyle.networks.bilateral import BilateralNet
from photostyle.networks.residual import ResidualNet

NET_PREFIX = "net."


def load_tensors(path: Path, what: str, fix: str) -> object:
    """torch.load of `path` with weights_only=True (tensors and plain data only), on the CPU.
    A file that is not one names `what` it should be and the `fix`."""
    try:
        with warnings.catch_warnings():
            # torch's notice that a file is pickled with another protocol: the refusal below says more.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError:
        raise permission_denied(path) from None
    except Exception as error:
        raise PhotostyleError(f"{path} is not {what} ({unreadable_reason(error)}); {fix}") from None


def load_checkpoint(path: Path) -> dict:
    """A Lightning checkpoint written by train.py, loaded with weights_only=True."""
    path = Path(path)
    if not path.is_file():
        raise PhotostyleError(f"checkpoint {path} does not exist; a run's checkpoints are in RUN_DIR/checkpoints/")
    checkpoint = load_tensors(path, "a safe, readable training checkpoint", "pass a .ckpt written by train.py")
    if (
        not isinstance(checkpoint, dict)
        or "state_dict" not in checkpoint
        or "model" not in checkpoint.get("hyper_parameters", {})
    ):
        raise PhotostyleError(
            f"{path} is not a photostyle training checkpoint (no state_dict or saved config);"
            " pass a .ckpt written by train.py"
        )
    return checkpoint


# Network settings that have moved out of the network; checkpoints that still name them load as if
# they did not. banded_from_pixels: bands of rows are the runtime's choice now.
RETIRED_NETWORK_KEYS = ("banded_from_pixels",)


# The networks a checkpoint may name. A checkpoint is a file from anywhere: the network is built by
# looking its class up here, never by calling whatever its config names (as Hydra's instantiate would).
NETWORKS: dict[str, type[nn.Module]] = {
    "photostyle.networks.bilateral.BilateralNet": BilateralNet,
    "photostyle.networks.residual.ResidualNet": ResidualNet,
}


def network_config(checkpoint: dict) -> dict:
    """The style network's saved config (Hydra's model group): its class's name and arguments."""
    config = checkpoint["hyper_parameters"]["model"]
    if not isinstance(config, dict) or config.get("_target_") not in NETWORKS:
        named = config.get("_target_") if isinstance(config, dict) else config
        raise PhotostyleError(
            f"the checkpoint's network is {named!r}, not one of photostyle's ({', '.join(NETWORKS)});"
            " pass a .ckpt written by train.py"
        )
    return {k: v for k, v in config.items() if k not in RETIRED_NETWORK_KEYS}


def untrained_network(checkpoint: dict) -> nn.Module:
    """The network a checkpoint's config names, built from its arguments, with its initial weights."""
    config = network_config(checkpoint)
    arguments = {k: v for k, v in config.items() if k != "_target_"}
    try:
        return NETWORKS[config["_target_"]](**arguments)
    except TypeError as error:  # an argument the class does not take
        raise PhotostyleError(
            f"the checkpoint's network config does not fit its class ({error}); pass a .ckpt written by train.py"
        ) from None


def network_state(checkpoint: dict) -> dict[str, torch.Tensor]:
    """The style network's own weights from a checkpoint's state dict."""
    return {k[len(NET_PREFIX) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(NET_PREFIX)}


def trained_network(checkpoint: dict, path: Path) -> nn.Module:
    """The network a checkpoint's config names, with the checkpoint's weights, which must fit it
    and be finite."""
    net = untrained_network(checkpoint)
    try:
        net.load_state_dict(network_state(checkpoint))
    except RuntimeError as error:  # the weights belong to another network than the saved config names
        raise PhotostyleError(
            f"{path}: its weights do not fit the network its config names ({first_line(error)}); "
            "export a checkpoint that train.py wrote unchanged"
        ) from None
    if not all(value.isfinite().all() for value in net.state_dict().values() if value.is_floating_point()):
        raise PhotostyleError(
            f"{path} holds NaN or infinite weights: its training diverged; train again with a lower"
            " optimizer.lr, or export an earlier checkpoint"
        )
    return net
