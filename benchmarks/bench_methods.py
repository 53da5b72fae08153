"""Every method `photostyle evaluate` knows, on ../shared/bench pairs, against the published results.

    python -m benchmarks.bench_methods [--pairs SET/ID ... | --pairs all] [--steps 200] [--max-side 512]
        [--bench ../shared/bench] [--out outputs/bench_methods] [--no-optimize] [--grid [OPTIMIZER ...]]

For each pair: the identity, Reinhard's and histogram-matching colour transfer, the per-image
optimisation (`photostyle optimize`'s defaults, with the pair's semantic masks where the bench
has them; with --grid also `optimize --grid`, with the same masks, for each optimiser named, each
with its own default budget, so their seconds a photo compare side by side) and the published reference
output of that pair (PhotoNAS, PhotoWCT2 or DPST), each also followed by the guided-filter
post-processing (`+post`). All are measured at the content's longer side --max-side
(references are resized to it). Prints one Markdown row per pair and method, then the means
per method; writes OUT/metrics.csv, OUT/metrics.md and a
contact sheet OUT/sheet.png (content | style | each method).
"""

from pathlib import Path

from benchmarks.basics import benchmark_parser
from benchmarks.common import (
    BENCH_PAIRS,
    PROTOCOL_SIDE,
    ROOT,
    add_bench_argument,
    evaluate_pair,
    pair_methods,
    per_pair_markdown,
    read_pairs,
    require_pairs,
)
from photostyle.evaluation.contact_sheet import contact_sheet
from photostyle.evaluation.evaluate import markdown, mean_table, write_csv
from photostyle.files import write_file
from photostyle.settings import OPTIMIZERS, OptimizeSettings


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--pairs", nargs="+", default=BENCH_PAIRS, help="SET/ID from pairs.csv, or `all`")
    parser.add_argument("--steps", type=int, default=OptimizeSettings().steps, help="optimisation steps per pair")
    parser.add_argument("--max-side", type=int, default=PROTOCOL_SIDE, help="the longer side photos are measured at")
    add_bench_argument(parser)
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "bench_methods", help="the outputs and tables")
    parser.add_argument(
        "--no-optimize", action="store_true", help="leave out the per-image optimisation (minutes per pair)"
    )
    parser.add_argument(
        "--grid",
        nargs="*",
        choices=OPTIMIZERS,
        help="add `optimize --grid` with its defaults, or with each optimiser named (minutes per pair)",
    )
    args = parser.parse_args()
    pairs = read_pairs(args.bench)
    names = list(pairs) if args.pairs == ["all"] else require_pairs(pairs, args.pairs)
    optimizers = {} if args.no_optimize else {"optimize": OptimizeSettings(steps=args.steps)}
    if args.grid == []:  # a bare --grid: the default's optimiser
        optimizers["optimize-grid"] = OptimizeSettings.of_grid()
    for optimizer in args.grid or []:
        optimizers[f"optimize-grid-{optimizer}"] = OptimizeSettings.of_grid(optimizer=optimizer)

    rows, sheet = [], []
    for number, name in enumerate(names, 1):
        pair = pairs[name]
        print(f"[{number}/{len(names)}] {name}", flush=True)
        methods = pair_methods(pair, args.bench, optimizers)
        pair_rows = evaluate_pair(name, pair, args.bench, methods, args.out, args.max_side, post=True)
        rows += pair_rows
        photos = [args.bench / pair["content"], args.bench / pair["style"]]
        sheet.append([*photos, *(Path(row["output"]) for row in pair_rows)])

    print(
        f"\n{len(names)} pairs, longer side {args.max_side}"
        + ("" if args.no_optimize else f", optimize {args.steps} steps")
    )
    per_pair = per_pair_markdown(rows)
    table = mean_table(rows)
    means = markdown(table) + time_ratios([row for row in table if row["method"] in optimizers])
    print(per_pair + "\nMeans over the pairs:\n\n" + means, end="")
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "metrics.csv", rows)
    write_file(args.out / "metrics.md", (per_pair + "\n" + means).encode())
    contact_sheet(
        sheet, ["content", "style", *dict.fromkeys(row["method"] for row in rows)], args.out / "sheet.png", 160
    )
    print(f"written under {args.out} (contact sheet: {args.out / 'sheet.png'})")


def time_ratios(fits: list[dict]) -> str:
    """Each fit's seconds a photo as a ratio to the first's, all timed in this one run."""
    if len(fits) < 2:
        return ""
    first = fits[0]
    ratios = (f"{row['method']} {row['seconds'] / first['seconds']:.2f}x" for row in fits[1:])
    return f"\nSeconds a photo against {first['method']}'s ({first['seconds']:.1f} s): {', '.join(ratios)}\n"


if __name__ == "__main__":
    main()
