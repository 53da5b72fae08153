"""train.py's resume policy: which checkpoint a run resumes from, and what a resumed run may change."""

from pathlib import Path

from photostyle.errors import PhotostyleError

# Config keys a resumed run may change: where and how it runs, not what it learns.
RESUMABLE_CHANGES = ("ckpt_path", "run_dir", "trainer", "callbacks", "logger", "data.num_workers", "data.list_cache")


def check_new_run_dir(run_dir: Path) -> None:
    """A new run may not write into a folder that holds another run's checkpoints: its last.ckpt
    would replace the old run's, and its best checkpoint would land beside the old best.ckpt as
    best-v1.ckpt, which ckpt_path=best does not read."""
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
