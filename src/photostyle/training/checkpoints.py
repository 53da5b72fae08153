"""Reading training checkpoints safely (tensors and plain data only, never pickled code)."""

from pathlib import Path

import torch

from photostyle.errors import PhotostyleError

NET_PREFIX = "net."
# Config keys a resumed run may change: where and how it runs, not what it learns.
RESUMABLE_CHANGES = ("ckpt_path", "run_dir", "trainer", "callbacks", "logger", "data.num_workers", "data.list_cache")


def load_checkpoint(path: Path) -> dict:
    """A Lightning checkpoint written by train.py, loaded with weights_only=True."""
    path = Path(path)
    if not path.is_file():
        raise PhotostyleError(f"checkpoint {path} does not exist; pass ckpt=RUN_DIR/checkpoints/last.ckpt")
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


def network_config(checkpoint: dict) -> dict:
    """The style network's saved config (Hydra's model group), for instantiate()."""
    return {k: v for k, v in checkpoint["hyper_parameters"]["model"].items() if k not in RETIRED_NETWORK_KEYS}


def network_state(checkpoint: dict) -> dict[str, torch.Tensor]:
    """The style network's own weights from a checkpoint's state dict."""
    return {k[len(NET_PREFIX) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(NET_PREFIX)}


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
