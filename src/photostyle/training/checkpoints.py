"""Reading training checkpoints safely (tensors and plain data only, never pickled code)."""

from pathlib import Path

import torch
from torch import nn

from photostyle.errors import PhotostyleError
from photostyle.networks.bilateral import BilateralNet
from photostyle.networks.residual import ResidualNet

NET_PREFIX = "net."
# Config keys a resumed run may change: where and how it runs, not what it learns.
RESUMABLE_CHANGES = ("ckpt_path", "run_dir", "trainer", "callbacks", "logger", "data.num_workers", "data.list_cache")


def load_checkpoint(path: Path) -> dict:
    """A Lightning checkpoint written by train.py, loaded with weights_only=True."""
    path = Path(path)
    if not path.is_file():
        raise PhotostyleError(f"checkpoint {path} does not exist; a run's checkpoints are in RUN_DIR/checkpoints/")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        reason = str(error).strip().splitlines()[0][:200]
        raise PhotostyleError(
            f"{path} is not a safe, readable training checkpoint ({reason}); pass a .ckpt written by train.py"
        ) from None
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


def saved_network(checkpoint: dict) -> nn.Module:
    """The network a checkpoint's config names, built from its arguments (untrained: see network_state)."""
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


def check_new_run_dir(run_dir: Path) -> None:
    """A new run may not write into a folder that holds another run's checkpoints: Lightning would
    name its own last-v1.ckpt, and ckpt_path=last would then resume the old run."""
    found = sorted((Path(run_dir) / "checkpoints").glob("*.ckpt"))
    if found:
        raise PhotostyleError(
            f"{run_dir} already holds a run's checkpoints ({found[0].name}); resume that run with ckpt_path=last,"
            " or give the new one its own hydra.run.dir"
        )


def resume_checkpoint(ckpt_path: str | None, run_dir: Path) -> Path | None:
    """The checkpoint train.py's ckpt_path names: a file, or last/best of the run folder."""
    if not ckpt_path:
        return None
    if ckpt_path not in ("last", "best"):
        return Path(ckpt_path)
    path = Path(run_dir) / "checkpoints" / f"{ckpt_path}.ckpt"
    if not path.is_file():
        raise PhotostyleError(
            f"ckpt_path={ckpt_path} found no {path}; resume in the run's own folder: "
            f"hydra.run.dir=outputs/DATE/TIME ckpt_path={ckpt_path}"
        )
    return path


def _flatten(config: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_same_training(checkpoint: dict, config: dict, path: Path) -> None:
    """Refuse to resume a run with settings that change what it learns (style, data, network,
    loss, optimiser, seed): it would silently become a different training."""
    saved, now = _flatten(checkpoint["hyper_parameters"]), _flatten(config)
    changed = sorted(
        key
        for key in saved.keys() | now.keys()
        if saved.get(key) != now.get(key) and not any(key == k or key.startswith(f"{k}.") for k in RESUMABLE_CHANGES)
    )
    if changed:
        shown = ", ".join(f"{key}={now.get(key)} (was {saved.get(key)})" for key in changed[:3])
        raise PhotostyleError(
            f"{path} was trained with other settings: {shown}{' ...' if len(changed) > 3 else ''}; "
            "resume with the run's own overrides (its .hydra/overrides.yaml) or start a new run"
        )
