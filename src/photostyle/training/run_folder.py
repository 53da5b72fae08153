"""A Hydra callback that checks, before Hydra makes it, that the run folder can be made: Hydra
makes it before train.py's main() runs, so a folder it cannot make would end in its traceback."""

import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from photostyle.files import unwritable_reason


class CheckRunFolder(Callback):
    def __init__(self, program: str):
        self.program = program

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        try:
            folder = Path(config.hydra.run.dir)
        except Exception:  # an interpolation only Hydra's job can resolve: Hydra's own to report
            return
        # Nothing is made here: Hydra resolves the folder's ${now:...} again when it makes it.
        if problem := unwritable_reason(folder.absolute()):
            print(
                f"{self.program}: error: hydra.run.dir={folder}: {problem}; choose a folder for the run",
                file=sys.stderr,
            )
            sys.exit(1)
