"""Bilateral-grid vs residual network on ../shared/bench pairs, same training budget, side by side.

    python benchmarks/bilateral_vs_residual.py [--pairs photowct2/0 stylenas/1 ...] [--steps 200]
        [--bench ../shared/bench] [--out outputs/bilateral_vs_residual] [--reuse]
        [--network NAME=OVERRIDE,OVERRIDE ...] [-- OVERRIDE ...]

For each pair, one model per network is trained on the bundled content photos (data/content)
with the pair's style photo and the same steps, batch and crops, exported, and run on the
pair's content photo (longer side 512), which no model saw in training. Printed per pair and
network: greyscale SSIM of the output against the content (structure kept; 1 = untouched)
and the relative Gram distance to the style photo (relu1_1..relu4_1; lower = closer to the
look), with the untouched content's distance for scale. A contact sheet (content, style, each
network) goes to OUT/sheet.jpg. Anything after `--` is passed to every train.py run, e.g.
`-- trainer.accelerator=gpu`. --network replaces the compared networks (default: NETWORKS
below). --reuse measures runs already in --out instead of retraining.
"""

import argparse
from pathlib import Path

from runs import ROOT, SHARED_BENCH, read_pairs, stylize, train_and_export

from photostyle.contact_sheet import contact_sheet
from photostyle.images import output_suffix
from photostyle.metrics import StyleDistance, grey_ssim
from photostyle.tensors import load

SIDE = 512
DEV_PAIRS = ["photowct2/0", "photowct2/3", "stylenas/1", "stylenas/4", "dpst/2", "dpst/9"]
# Each network with its own defaults (the residual one trains best at a lower learning rate).
NETWORKS = {
    "residual": ["model=residual", "optimizer.lr=1e-3"],
    "bilateral": ["model=bilateral"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=DEV_PAIRS, help="SET/ID from pairs.csv")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--bench", type=Path, default=SHARED_BENCH)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bilateral_vs_residual")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--network", action="append", default=[], help="NAME=OVERRIDE,OVERRIDE (repeatable)")
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides (after --)")
    args = parser.parse_args()
    networks = {n: o.split(",") for n, o in (spec.split("=", 1) for spec in args.network)} or NETWORKS
    pairs = read_pairs(args.bench)

    rows, sheet = [], []
    for name in args.pairs:
        pair = pairs[name]
        content, style = args.bench / pair["content"], args.bench / pair["style"]
        original = load(content, SIDE)
        distance = StyleDistance(load(style, SIDE))
        row, outputs = [name, distance(original)], []
        for network, overrides in networks.items():
            run_dir = args.out / name.replace("/", "_") / network
            output = run_dir / "stylized" / content.with_suffix(output_suffix(content)).name
            if not (args.reuse and output.is_file()):
                model = train_and_export(run_dir, [f"style.image={style.resolve()}", f"trainer.max_steps={args.steps}", *overrides, *args.overrides])
                stylize(model, [content], run_dir / "stylized", "--max-side", str(SIDE))
            stylized = load(output)
            row += [grey_ssim(stylized, original), distance(stylized)]
            outputs.append(output)
        rows.append(row)
        sheet.append([content, style, *outputs])
    contact_sheet(sheet, ["content", "style", *networks], args.out / "sheet.jpg", height=200)

    print(f"{args.steps} training steps per model on data/content {' '.join(args.overrides)}; outputs at longer side {SIDE}; "
          f"written under {args.out} (contact sheet: {args.out / 'sheet.jpg'})")
    print("| pair | untouched style distance | " + " | ".join(f"{n} SSIM | {n} style distance" for n in networks) + " |")
    print("|---|---|" + "---|---|" * len(networks))
    for name, untouched, *scores in rows:
        print(f"| {name} | {untouched:.2f} | " + " | ".join(f"{v:.3f}" if i % 2 == 0 else f"{v:.2f}" for i, v in enumerate(scores)) + " |")
    means = [sum(column) / len(rows) for column in zip(*(row[1:] for row in rows))]
    print(f"| mean | {means[0]:.2f} | " + " | ".join(f"{v:.3f}" if i % 2 == 0 else f"{v:.2f}" for i, v in enumerate(means[1:])) + " |")


if __name__ == "__main__":
    main()
