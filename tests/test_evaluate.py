"""`photostyle evaluate`, run as a user runs it, on small synthetic photos."""

import csv

import numpy as np
import pytest
from PIL import Image

from photostyle.evaluation.evaluate import mean_table

from conftest import PHOTOSTYLE, run, save_photo


def read_rows(path):
    with open(path) as file:
        return list(csv.DictReader(file))


@pytest.mark.slow
def test_methods_metrics_outputs_and_sheet(tmp_path, style_photo, tiny_model):
    save_photo(tmp_path / "in" / "a.png", 30, 40, seed=1), save_photo(tmp_path / "in" / "b.jpg", 36, 28, seed=2)
    existing = tmp_path / "paper"  # a folder of someone else's outputs, named like the contents
    noise = np.random.default_rng(0).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    existing.mkdir()
    Image.fromarray(noise).save(existing / "a.png")  # another size: resized to the content's for the metrics
    Image.fromarray(noise[:36, :28]).save(existing / "b.png")
    out = tmp_path / "eval"
    result = run(
        PHOTOSTYLE,
        "evaluate",
        str(tmp_path / "in"),
        "--style",
        str(style_photo),
        "-o",
        str(out),
        "-m",
        "identity",
        "-m",
        "reinhard",
        "-m",
        "histogram",
        "-m",
        f"model={tiny_model}",
        "-m",
        f"paper={existing}",
        "--post",
    )
    assert result.returncode == 0, result.stderr
    assert "| method | photos | style distance |" in result.stdout and "evaluate: 100%" in result.stderr
    rows = read_rows(out / "metrics.csv")
    methods = [
        "identity",
        "identity+post",
        "reinhard",
        "reinhard+post",
        "histogram",
        "histogram+post",
        "model",
        "model+post",
        "paper",
        "paper+post",
    ]
    assert [r["method"] for r in rows] == methods * 2
    by = {(r["photo"], r["method"]): r for r in rows}
    for photo, size in [("a.png", (40, 30)), ("b.jpg", (28, 36))]:
        identity = by[photo, "identity"]
        assert float(identity["ssim"]) > 0.999 and float(identity["affine_residual"]) < 0.01
        # Reinhard moves the colours towards the style's: closer in colour than the untouched photo.
        assert float(by[photo, "reinhard"]["colour_distance"]) < 0.7 * float(identity["colour_distance"])
        assert float(by[photo, "histogram"]["colour_distance"]) < 0.7 * float(identity["colour_distance"])
        # Noise is no affine recolouring of the content; the guided filter makes it much closer to one.
        assert float(by[photo, "paper"]["affine_residual"]) > 0.3 and by[photo, "paper"]["seconds"] == ""
        assert float(by[photo, "paper+post"]["affine_residual"]) < float(by[photo, "paper"]["affine_residual"])
        for method in methods:
            assert Image.open(by[photo, method]["output"]).size == size
    assert (out / "metrics.md").read_text().count("\n") == 2 + len(methods)
    sheet = Image.open(out / "sheet.png")
    assert sheet.height > 2 * 192 and sheet.width > 12 * 192 * 28 / 36  # 2 rows; content, style and 10 outputs
    again = run(
        PHOTOSTYLE, "evaluate", str(tmp_path / "in"), "--style", str(style_photo), "-o", str(out), "-m", "identity"
    )
    assert again.returncode == 1 and "--overwrite" in again.stderr and "Traceback" not in again.stderr


def test_mean_table_skips_missing_times():
    rows = [
        {
            "method": "m",
            "style_distance": 1.0,
            "colour_distance": 2.0,
            "ssim": 0.5,
            "affine_residual": 0.1,
            "seconds": 2.0,
        },
        {
            "method": "m",
            "style_distance": 3.0,
            "colour_distance": 4.0,
            "ssim": 0.7,
            "affine_residual": 0.3,
            "seconds": None,
        },
    ]
    (row,) = mean_table(rows)
    assert row["photos"] == 2 and row["style_distance"] == 2.0 and row["ssim"] == 0.6 and row["seconds"] == 2.0
    for each in rows:
        each["seconds"] = None
    assert mean_table(rows)[0]["seconds"] is None


@pytest.mark.slow
def test_bad_method_and_missing_outputs_get_one_line(tmp_path, style_photo):
    content = save_photo(tmp_path / "in" / "a.png", 20, 20)
    bad = run(
        PHOTOSTYLE, "evaluate", str(content), "--style", str(style_photo), "-o", str(tmp_path / "e"), "-m", "nonsense"
    )
    assert bad.returncode == 1 and "neither" in bad.stderr and "Traceback" not in bad.stderr
    (tmp_path / "empty").mkdir()
    missing = run(
        PHOTOSTYLE,
        "evaluate",
        str(content),
        "--style",
        str(style_photo),
        "-o",
        str(tmp_path / "e"),
        "-m",
        f"x={tmp_path / 'empty'}",
    )
    assert missing.returncode == 1 and "has no output for a.png" in missing.stderr and "Traceback" not in missing.stderr
