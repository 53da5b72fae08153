"""What the bad-input tests share: small images and files to make, and what a clean failure is."""

import ctypes
import hashlib
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import pytorch_lightning as pl
from omegaconf import DictConfig
from PIL import Image

from conftest import PROJECT_ROOT, smooth_photo


def save_image(path: Path, image: Image.Image, **options) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **options)


def small_photo(height: int, width: int) -> Image.Image:
    return Image.fromarray(smooth_photo(height, width))


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def no_leftovers(folder: Path) -> bool:
    return not any(p.name.endswith(".part") for p in folder.rglob("*")) if folder.exists() else True


def clean_failure(result, *names: str) -> bool:
    """A process that stopped with a non-zero status and no traceback, with one line on stderr
    that names each of `names` (its refusal, or the warning that skipped a file), and at most
    one refusal. Progress bars and a training run's own report may come before it."""
    lines = result.stderr.splitlines()
    return (
        result.returncode != 0
        and "Traceback" not in result.stderr
        # Hydra's own report of a config it cannot compose runs to ten lines and ends so.
        and "HYDRA_FULL_ERROR" not in result.stderr
        and any(all(name in line for name in names) for line in lines)
        and sum(": error: " in line for line in lines) <= 1
    )


def refusal_line(call: Callable[[], None], capsys) -> str:
    """The one error line an entry point's main, called in this process, stops with; the
    refusal tests run most of their cases so, as each process costs seconds of imports."""
    with pytest.raises(SystemExit) as stopped:
        call()
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if ": error: " in line]
    # 1: photostyle's own refusal; 2: the argument parser's.
    assert stopped.value.code in (1, 2) and len(errors) == 1 and "Traceback" not in stderr, stderr[-2000:]
    return errors[0]


def script_main(script: str) -> Callable[[DictConfig], None]:
    """SCRIPT.py's main() as written, without Hydra's command-line wrapper (see benchmarks.common.compose_config)."""
    spec = importlib.util.spec_from_file_location(f"{script}_entry_point", PROJECT_ROOT / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main.__wrapped__


def written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def made(path: Path, make) -> Path:
    make(path)
    return path


class CtrlCInTheFirstStep(pl.Callback):
    """A Ctrl-C that reaches Lightning itself (a second press stops at once), as a config can add it."""

    def on_train_batch_start(self, *args) -> None:
        raise KeyboardInterrupt


# prctl(2): drop a capability from the bounding set, which bounds what a program run next gets.
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_SETPCAP = 24, 1, 2, 8
AS_ROOT = os.geteuid() == 0


def _capabilities() -> int:
    """This process's effective capabilities, as a bit mask (Linux)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("CapEff:")), 16)


def _bound_by_permissions() -> None:
    """Run what comes next subject to file permissions even as root, who has them only through
    the two capabilities dropped here."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


# For run(limit=...): root is bound by file permissions only without those capabilities; anyone else is.
BOUND_BY_PERMISSIONS = _bound_by_permissions if AS_ROOT else None
needs_file_permissions = pytest.mark.skipif(
    AS_ROOT and not _capabilities() >> CAP_SETPCAP & 1,
    reason="root without CAP_SETPCAP (a container's) cannot give up the capabilities that pass file permissions",
)
