"""The package's layers: imports point one way, and the inference layer runs without torch."""

import ast
import subprocess
import sys
from pathlib import Path

from conftest import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "src" / "photostyle"
SHARED = {
    "errors",
    "files",
    "images",
    "photo_folders",
    "colour",
    "colour_difference",
    "structure",
    "interface",
    "settings",
}
# The command is the one entry point that wires the layers together, so it may import any of them.
COMMAND = {"photostyle.cli", "photostyle.arguments", "photostyle.__main__"}
# What each layer may import from photostyle, besides itself.
ALLOWED = {
    "shared": {"shared"},
    "networks": {"shared"},
    "training": {"shared", "networks"},
    "inference": {"shared"},
    "evaluation": {"shared", "networks", "training", "inference"},
}


def layer(module: str) -> str:
    """photostyle.training.loss -> training; photostyle.images -> shared."""
    parts = module.split(".")
    if len(parts) > 2 or parts[1] in ALLOWED:
        return parts[1]
    return "shared" if parts[1] in SHARED else parts[1]


def photostyle_imports(path: Path) -> set[str]:
    """Every photostyle module a source file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("photostyle"):
            found.add(node.module if node.module != "photostyle" else f"photostyle.{node.names[0].name}")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("photostyle."))
    return found


def test_every_module_belongs_to_a_layer():
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(("photostyle", *path.relative_to(PACKAGE).with_suffix("").parts))
        if module.endswith("__init__") or module in COMMAND:
            continue
        assert layer(module) in ALLOWED, f"{module} is in no layer; put it in one of {sorted(ALLOWED)}"


def wrong_imports(module: str, path: Path) -> list[str]:
    """The imports of `module` (its source at `path`) that its layer may not make."""
    own = layer(module)
    return [
        f"{module} ({own}) imports {imported} ({layer(imported)})"
        for imported in sorted(photostyle_imports(path))
        if layer(imported) != own and layer(imported) not in ALLOWED[own]
    ]


def test_imports_point_one_way():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(("photostyle", *path.relative_to(PACKAGE).with_suffix("").parts))
        if module.endswith("__init__") or module in COMMAND:
            continue
        wrong += wrong_imports(module, path)
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_a_wrong_import(tmp_path):
    assert [layer(m) for m in ("photostyle.training.loss", "photostyle.images", "photostyle.inference")] == [
        "training",
        "shared",
        "inference",
    ]
    source = tmp_path / "bad.py"
    source.write_text(
        "from photostyle.images import read_photo\ndef f():\n    from photostyle.training.loss import gram_matrix\n"
    )
    assert wrong_imports("photostyle.inference.bad", source) == [
        "photostyle.inference.bad (inference) imports photostyle.training.loss (training)"
    ]
    assert wrong_imports("photostyle.evaluation.bad", source) == []


def test_inference_imports_no_torch():
    # torch made unimportable: any import of it, however indirect, fails this process.
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import photostyle.cli, photostyle.inference.runtime, photostyle.inference.serve, photostyle.inference.server\n"
        "import photostyle.inference.stylize, photostyle.inference.lut\n"
        "assert not any(name == 'torch' or name.startswith('torch.') for name in sys.modules if sys.modules[name])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
