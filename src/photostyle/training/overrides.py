"""A command line whose overrides do not compose (an unknown key or option, a typo in the
grammar), refused in one line: Hydra's own report of it takes up to ten, with its search path."""

import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException, MissingConfigException, OverrideParseException

from photostyle.errors import first_line


def _one_line(error: HydraException | ValueError, program: str) -> str:
    report = str(error).split("Config search path:")[0]
    lines = [line.strip().rstrip(".") for line in report.splitlines() if line.strip()]
    lines[1:] = [line[0].lower() + line[1:] for line in lines[1:]]
    if isinstance(error, MissingConfigException) and error.options:
        return f"{lines[0]}; choose one of: {', '.join(error.options)}"
    if isinstance(error, OverrideParseException) and error.override not in lines[0]:
        lines[0] = f"{error.override}: {lines[0]}"
    if isinstance(error, ValueError) and "Got NoneType" in lines[0]:  # GROUP=null
        lines.append("to leave a group out, write ~GROUP, e.g. ~logger")
    if error.__cause__ is not None:  # OmegaConf's reason, e.g. "Key 'nosuch' is not in struct"
        lines[0] = f"{lines[0]} ({first_line(error.__cause__)})"
        lines.append(f"python {program} --cfg job lists every key")
    return "; ".join(lines)


def exit_on_bad_overrides(program: str, config_dir: Path, config_name: str, arguments: list[str]) -> None:
    """Compose conf/CONFIG_NAME.yaml with the command line's overrides before Hydra does, and
    exit with one line and status 2, as for a bad flag, if they do not compose. A command line
    with Hydra's own flags (--help, --cfg, -m) or a sweep (hydra.mode=MULTIRUN) is left to Hydra."""
    if any(argument.startswith(("-", "hydra.mode=")) for argument in arguments):
        return
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            compose(config_name, overrides=arguments, return_hydra_config=True)
    except (HydraException, ValueError) as error:  # ValueError: Hydra's own, for a group set to null
        print(f"{program}: error: {_one_line(error, program)}", file=sys.stderr)
        sys.exit(2)
