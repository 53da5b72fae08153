"""Training throughput: images per second through train.py, for a fixed number of steps.

    python -m benchmarks.train_throughput [--steps 20] [--warmup 3] [--crop 256] [--batch 4] [-- OVERRIDE ...]

Runs the real train.py (default config: bilateral network, full loss with the matting term)
with 256x256 crops and batch 4, no validation, no checkpoints, and times every training step
with a callback (benchmarks.step_timer). The first --warmup steps are left out (start-up,
first allocations). Anything after `--` goes to train.py, e.g. `-- hardware=gpu` or
`-- model=residual`. Prints the configuration and images/s (all processes together).
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.basics import benchmark_parser
from benchmarks.common import ROOT


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("overrides", nargs="*", help="train.py overrides (after --)")
    args = parser.parse_args()
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1 (the clock starts when the last warm-up step ends)")

    with tempfile.TemporaryDirectory() as folder:
        timings = Path(folder) / "steps.json"
        command = [
            sys.executable,
            "train.py",
            "logger=csv",
            f"hydra.run.dir={folder}/run",
            f"data.crop_size={args.crop}",
            f"data.batch_size={args.batch}",
            f"trainer.max_steps={args.warmup + args.steps}",
            "+trainer.limit_val_batches=0",
            "~callbacks.best",
            "~callbacks.last",
            # train.py's own folder (ROOT) is first on its sys.path, so this resolves in every process.
            "+callbacks.timer._target_=benchmarks.step_timer.StepTimer",
            f"+callbacks.timer.out={timings}",
            *args.overrides,
        ]
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        result = json.loads(timings.read_text())
    ends = result["ends"]
    seconds, steps = ends[-1] - ends[args.warmup - 1], args.steps
    images = steps * args.batch * result["world_size"]
    print(
        f"train.py {' '.join(args.overrides) or '(defaults)'}: {args.crop}x{args.crop} crops, "
        f"batch {args.batch} per process, "
        f"{result['world_size']} process(es) on {result['device']}, precision {result['precision']}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
    )
    print(
        f"{images / seconds:.2f} images/s "
        f"({seconds / steps:.3f} s a step, {steps} steps timed after {args.warmup} warm-up)"
    )


if __name__ == "__main__":
    main()
