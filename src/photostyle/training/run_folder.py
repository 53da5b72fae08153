"""A Hydra callback that checks, before Hydra makes it, that the run folder can be made: Hydra
makes it before train.py's main() runs, so a folder it cannot make would end in its traceback."""

import os
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


def run_folder_problem(folder: Path) -> str:
    """Why `folder` cannot be made or written ("" when it can), judged by the nearest part of it
    that exists: nothing is made here, since Hydra resolves the folder's ${now:...} again."""
    nearest = next(path for path in [folder, *folder.parents] if path.exists() or path == path.parent)
    if nearest.exists() and not nearest.is_dir():
        return f"{nearest} is a file"
    if not os.access(nearest, os.W_OK | os.X_OK):
        return f"{nearest} is not writable"
    return ""


class CheckRunFolder(Callback):
    def __init__(self, program: str):
        self.program = program

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            folder = Path(config.hydra.run.dir)
        except Exception:  # an interpolation only Hydra's job can resolve: Hydra's own to report
            return
        if problem := run_folder_problem(folder.absolute()):
            print(
                f"{self.program}: error: hydra.run.dir={folder}: {problem}; choose a folder for the run",
                file=sys.stderr,
            )
            sys.exit(1)
