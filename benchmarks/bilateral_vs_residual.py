"""Bilateral-grid vs residual network on ../shared/bench pairs, same training budget, side by side.

    python -m benchmarks.bilateral_vs_residual [--pairs SET/ID ...] [--steps 200]
        [--bench ../shared/bench] [--out outputs/bilateral_vs_residual] [--reuse] [--max-side 512]
        [--network NAME=OVERRIDE,OVERRIDE ...] [-- OVERRIDE ...]

For each pair, one model per network is trained on the bundled content photos (data/content)
with the pair's style photo and the same steps, batch and crops, exported, and run on the
pair's content photo (longer side --max-side, 512), which no model saw in training. Printed per pair and
network: greyscale SSIM of the output against the content (structure kept; 1 = untouched)
and the relative Gram distance to the style photo (relu1_1..relu4_1; lower = closer to the
look), with the untouched content's distance for scale, and SSIM's two factors: its luminance
term (tone kept) and its contrast-structure term (detail kept).

A model that moves a photo less keeps more SSIM for that alone, so each output is also
blended with its photo at strengths 0.05..1 (`photostyle stylize --strength`; for the
bilateral network that is still a per-pixel affine colour map), and networks are compared at
equal style distance. For every network after the first, per pair: the lowest strength at
which it is as close to the style as the first network's output, its SSIM there, and how
many points of the first network's strength curve it dominates (its own curve, linear
between strengths, gets as close with at least that SSIM). A contact sheet (content, style,
each network) goes to OUT/sheet.jpg, and `photostyle evaluate`'s metrics of every output and
of the untouched photo (identity) to OUT/metrics.csv. Anything after `--` is passed to every
train.py run, e.g. `-- hardware=gpu`. --network replaces the compared networks (default:
NETWORKS below). --reuse measures runs already in --out instead of retraining.
"""

from pathlib import Path

from benchmarks.basics import benchmark_parser
from benchmarks.common import (
    PROTOCOL_SIDE,
    ROOT,
    add_bench_argument,
    baseline_method,
    pair_folder,
    read_pairs,
    require_pairs,
    stylize,
    train_and_export,
)
from photostyle.evaluation.contact_sheet import contact_sheet
from photostyle.evaluation.evaluate import evaluate_photo, file_method, write_csv
from photostyle.evaluation.metrics import StyleDistance, grey_ssim, grey_ssim_terms
from photostyle.images import output_suffix
from photostyle.inference.runtime import blend
from photostyle.training.tensors import load

STRENGTHS = [step / 20 for step in range(1, 21)]
DEV_PAIRS = ["photowct2/0", "photowct2/3", "stylenas/1", "stylenas/4", "dpst/2", "dpst/9"]
# Each network with its own defaults (the residual one trains best at a lower learning rate).
NETWORKS = {
    "residual": ["model=residual", "optimizer.lr=1e-3"],
    "bilateral": ["model=bilateral"],
}


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--pairs", nargs="+", default=DEV_PAIRS, help="SET/ID from pairs.csv")
    parser.add_argument("--steps", type=int, default=200, help="training steps of each model")
    add_bench_argument(parser)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bilateral_vs_residual", help="runs and outputs")
    parser.add_argument("--reuse", action="store_true", help="measure the runs already in --out")
    parser.add_argument("--max-side", type=int, default=PROTOCOL_SIDE, help="the longer side photos are measured at")
    parser.add_argument("--network", action="append", default=[], help="NAME=OVERRIDE,OVERRIDE (repeatable)")
    parser.add_argument("overrides", nargs="*", help="extra train.py overrides (after --)")
    args = parser.parse_args()
    networks = {n: o.split(",") for n, o in (spec.split("=", 1) for spec in args.network)} or NETWORKS
    pairs = read_pairs(args.bench)
    require_pairs(pairs, args.pairs)

    rows, terms, matched, sheet, measured = [], [], [], [], []
    for name in args.pairs:
        pair = pairs[name]
        content, style = args.bench / pair["content"], args.bench / pair["style"]
        pair_dir = pair_folder(args.out, name)
        outputs = []
        for network, overrides in networks.items():
            output = pair_dir / network / "stylized" / content.with_suffix(output_suffix(content)).name
            if not (args.reuse and output.is_file()):
                model = train_and_export(
                    pair_dir / network,
                    [f"style.image={style.resolve()}", f"trainer.max_steps={args.steps}", *overrides, *args.overrides],
                )
                stylize(model, [content], output.parent, "--max-side", str(args.max_side))
            outputs.append(output)

        style_image = load(style, args.max_side)
        distance = StyleDistance(style_image)
        methods = [
            baseline_method("identity"),
            *(file_method(network, output.parent) for network, output in zip(networks, outputs)),
        ]
        pair_rows = evaluate_photo(content, style_image, methods, pair_dir, args.max_side, distance=distance)
        for result in pair_rows:
            result["pair"] = name
        measured += pair_rows
        untouched = pair_rows[0]["style_distance"]  # the identity row: the photo itself
        original = load(content, args.max_side)
        row, curves = [name, untouched], []
        for network, output, result in zip(networks, outputs, pair_rows[1:]):
            stylized = load(output, args.max_side)  # outputs reused from a run at a larger --max-side too
            _, luminance, structure = grey_ssim_terms(stylized, original)
            row += [result["ssim"], result["style_distance"]]
            terms.append(f"| {name} | {network} | {luminance:.3f} | {structure:.3f} |")
            curves.append(
                [(untouched, 1.0)]
                + [
                    (distance(image), grey_ssim(image, original))
                    for image in (blend(original, stylized, s) for s in STRENGTHS)
                ]
            )
        rows.append(row)
        matched += [
            f"| {name} | {other} | " + match_cells(curves[0], curve) for other, curve in list(zip(networks, curves))[1:]
        ]
        sheet.append([content, style, *outputs])
    contact_sheet(sheet, ["content", "style", *networks], args.out / "sheet.jpg", height=200)
    write_csv(args.out / "metrics.csv", measured)

    print(
        f"{args.steps} training steps per model on data/content {' '.join(args.overrides)}; "
        f"outputs at longer side {args.max_side}; "
        f"written under {args.out} (contact sheet: {args.out / 'sheet.jpg'})"
    )
    print(
        "| pair | untouched style distance | " + " | ".join(f"{n} SSIM | {n} style distance" for n in networks) + " |"
    )
    print("|---|---|" + "---|---|" * len(networks))
    for name, untouched, *scores in rows:
        print(
            f"| {name} | {untouched:.2f} | "
            + " | ".join(f"{v:.3f}" if i % 2 == 0 else f"{v:.2f}" for i, v in enumerate(scores))
            + " |"
        )
    means = [sum(column) / len(rows) for column in zip(*(row[1:] for row in rows))]
    print(
        f"| mean | {means[0]:.2f} | "
        + " | ".join(f"{v:.3f}" if i % 2 == 0 else f"{v:.2f}" for i, v in enumerate(means[1:]))
        + " |"
    )
    print("\nSSIM's factors (window means): luminance term (tone kept), contrast-structure term (detail kept)")
    print("| pair | network | luminance | contrast-structure |\n|---|---|---|---|\n" + "\n".join(terms))
    first = next(iter(networks))
    print(f"\nAgainst {first}'s output, with strength (0 = the photo, 1 = the output; {STRENGTHS[0]} steps)")
    print(
        f"| pair | network | lowest strength as close as {first} | its SSIM | {first} SSIM | "
        f"points of {first}'s curve dominated |"
    )
    print("|---|---|---|---|---|---|\n" + "\n".join(matched))


def as_close(curve: list[tuple[float, float]], target: float) -> tuple[float, float] | None:
    """(strength, SSIM) where a (distance, SSIM) strength curve, from strength 0 (the photo) in
    STRENGTHS steps, first gets as close to the style as `target`, linear between its points;
    None if it never does."""
    for i, (distance, ssim) in enumerate(curve):
        if distance <= target:
            if i == 0:
                return 0.0, ssim
            previous_distance, previous_ssim = curve[i - 1]
            step = (previous_distance - target) / (previous_distance - distance)
            return (i - 1 + step) * STRENGTHS[0], previous_ssim + step * (ssim - previous_ssim)
    return None


def match_cells(reference: list[tuple[float, float]], curve: list[tuple[float, float]]) -> str:
    """Table cells comparing `curve` with the `reference` network's curve: where it gets as
    close to the style as the reference's output, and how many reference points it dominates."""
    target_distance, target_ssim = reference[-1]
    match = as_close(curve, target_distance)
    cells = f"{match[0]:.2f} | {match[1]:.3f}" if match else "never | -"
    reached = [(as_close(curve, distance), ssim) for distance, ssim in reference[1:]]
    dominated = sum(point is not None and point[1] >= ssim for point, ssim in reached)
    return f"{cells} | {target_ssim:.3f} | {dominated}/{len(reference) - 1} |"


if __name__ == "__main__":
    main()
