"""The quality protocol: one model per bench style, trained with the default recipe, against
the colour-transfer baselines and the published result of each pair.

    python -m benchmarks.quality [--pairs SET/ID ...] [--bench ../shared/bench]
        [--out outputs/quality] [--reuse] [-- OVERRIDE ...]

For each pair (common.BENCH_PAIRS, chosen up front) train.py trains a model with its defaults
on the bundled content photos (data/content) and the pair's style photo, export.py exports
it, and the model stylizes the pair's content photo, which it never saw. That output is
measured with `photostyle evaluate`'s metrics at longer side 512, next to identity,
Reinhard's transfer, histogram matching, the untrained network (its global map to the
style's colour statistics alone, so the table shows what training adds) and the published
reference output (PhotoNAS, PhotoWCT2 or DPST). Prints the rows per pair, the means and the
four targets with the margin of each; writes OUT/metrics.csv, OUT/metrics.md, OUT/sheet.png
and a small OUT/sheet.jpg. Anything after `--` goes to every train.py run. --reuse measures
models already in --out instead of training them again.
"""

import argparse
import time
from pathlib import Path

import torch
from hydra.utils import instantiate

from benchmarks.common import (
    BENCH_PAIRS,
    ROOT,
    SHARED_BENCH,
    pair_methods,
    per_pair_markdown,
    read_pairs,
    train_and_export,
)
from photostyle.evaluation.contact_sheet import contact_sheet
from photostyle.evaluation.evaluate import (
    Method,
    evaluate_photo,
    markdown,
    mean_table,
    onnx_method,
    write_csv,
    write_text,
)
from photostyle.training.checkpoints import load_checkpoint, network_config
from photostyle.training.tensors import load

SIDE = 512
MODEL = "photostyle"
# (metric, the method whose mean it must reach, True when lower is better)
TARGETS = [
    ("style_distance", "reference", True),
    ("colour_distance", "reinhard", True),
    ("ssim", "reinhard", False),
    ("affine_residual", "reference", True),
]


def untrained_method(checkpoint: Path) -> Method:
    """The trained model's network as it was before training: with the default recipe, its
    global map to the style's colour statistics alone."""
    net = instantiate(network_config(load_checkpoint(checkpoint))).eval()

    def run(path: Path, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if hasattr(net, "set_style"):
            net.set_style(style)
        return net(content).clamp(0, 1)

    return Method("untrained", run)


def targets_markdown(means: list[dict]) -> str:
    by_method = {row["method"]: row for row in means}
    ours = by_method[MODEL]
    lines = ["| target | photostyle | to reach | met | margin |", "|---|---|---|---|---|"]
    for metric, method, lower in TARGETS:
        goal = by_method[method][metric]
        margin = goal - ours[metric] if lower else ours[metric] - goal
        sign = "<=" if lower else ">="
        lines.append(
            f"| {metric.replace('_', ' ')} {sign} {method} | {ours[metric]:.4g} | {goal:.4g} | "
            f"{'yes' if margin >= 0 else 'no'} | {margin:+.4g} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=BENCH_PAIRS, help="SET/ID from pairs.csv")
    parser.add_argument("--bench", type=Path, default=SHARED_BENCH)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "quality")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides (after --)")
    args = parser.parse_args()
    pairs = read_pairs(args.bench)

    rows, sheet, minutes = [], [], []
    for number, name in enumerate(args.pairs, 1):
        pair = pairs[name]
        content, style = args.bench / pair["content"], args.bench / pair["style"]
        out_dir = args.out / name.replace("/", "_")
        model = out_dir / "run" / "model.onnx"
        if not (args.reuse and model.is_file()):
            start = time.monotonic()
            train_and_export(out_dir / "run", [f"style.image={style.resolve()}", *args.overrides])
            minutes.append((time.monotonic() - start) / 60)
            print(f"[{number}/{len(args.pairs)}] {name}: trained and exported in {minutes[-1]:.1f} min", flush=True)
        methods = [
            onnx_method(MODEL, model),
            untrained_method(out_dir / "run" / "checkpoints" / "last.ckpt"),
            *pair_methods(pair, args.bench),
        ]
        pair_rows = evaluate_photo(content, load(style, SIDE), methods, out_dir, SIDE)
        for row in pair_rows:
            row["pair"] = name
        rows += pair_rows
        sheet.append([content, style, *(Path(row["output"]) for row in pair_rows)])

    means = mean_table(rows)
    report = (
        per_pair_markdown(rows)
        + "\nMeans over the pairs:\n\n"
        + markdown(means)
        + "\nTargets (means):\n\n"
        + targets_markdown(means)
    )
    if minutes:
        report += (
            f"\nTraining and export: {sum(minutes) / len(minutes):.1f} min a style on average, "
            f"{max(minutes):.1f} at most\n"
        )
    print(f"\n{len(args.pairs)} pairs, longer side {SIDE}\n" + report, end="")
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "metrics.csv", rows)
    write_text(args.out / "metrics.md", report)
    labels = ["content", "style", *dict.fromkeys(row["method"] for row in rows)]
    contact_sheet(sheet, labels, args.out / "sheet.png", 160)
    contact_sheet(sheet, labels, args.out / "sheet.jpg", 96)
    print(f"written under {args.out} (contact sheets: {args.out / 'sheet.png'}, {args.out / 'sheet.jpg'})")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
