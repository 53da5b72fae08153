"""What the benchmarks share that needs only the standard library: their command lines (--help,
WIDTHxHEIGHT) and a process's memory. Processes whose memory or start-up is measured use it, where
importing benchmarks.common would add torch and Hydra to what they measure."""

import argparse
import inspect
import re


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """A benchmark's docstring as written, then each option with its default."""


def benchmark_parser(doc: str) -> argparse.ArgumentParser:
    """The parser of a benchmark whose module docstring is `doc`: --help shows all of it."""
    return argparse.ArgumentParser(description=doc, formatter_class=HelpFormatter)


def frame_size(text: str) -> tuple[int, int]:
    """An argparse type: "WIDTHxHEIGHT" in pixels, e.g. "1920x1080" -> (1920, 1080)."""
    if not (match := re.fullmatch(r"([1-9][0-9]*)x([1-9][0-9]*)", text)):
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT in pixels, e.g. 1920x1080")
    return int(match[1]), int(match[2])


def proc_status_mib(field: str, pid: int | str = "self") -> float:
    """A memory field of /proc/PID/status (Linux) in MiB, e.g. "VmRSS" (resident now) or "VmHWM" (its
    peak so far); NaN when the process has no such field."""
    # Built-ins only: with_memory_probes copies this function into children.
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key == field:
                return int(value.split()[0]) / 1024  # kB
    return float("nan")


def reset_peak_memory() -> None:
    """Start this process's peak resident memory (VmHWM) again from the current one (Linux)."""
    # Built-ins only, like proc_status_mib.
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def with_memory_probes(script: str) -> str:
    """A `python -c` script with proc_status_mib and reset_peak_memory defined ahead of it, for a
    child whose memory is measured, which may run with another checkout's src/ and without this
    folder on its path."""
    return inspect.getsource(proc_status_mib) + inspect.getsource(reset_peak_memory) + script
