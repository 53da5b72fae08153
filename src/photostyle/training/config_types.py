"""Config values of the wrong type, refused in one line before anything is built from them.

Every Hydra key under a `_target_` is an argument of that target's constructor, and the
constructors are annotated: `data.crop_size=abc` is checked against `crop_size: int` here,
instead of failing deep inside the target with a comparison of a string and an int.
"""

import inspect
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from photostyle.errors import PhotostyleError

# What a user is told to give, for the annotations a photostyle config uses.
WANTED = {int: "a whole number", float: "a number", bool: "true or false", str: "a text", Path: "a path"}


def _plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _fits(value: object, hint: object) -> bool | None:
    """Whether `value` fits the annotation `hint`; None when the annotation is beyond this check."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint in (str, Path, os.PathLike):
        return isinstance(value, str)
    if origin in (typing.Union, types.UnionType):
        # A class among the alternatives (a Tensor, an Accelerator) takes no value a config can
        # write, so a plain value that fits none of the others is wrong.
        fits = [_fits(value, member) for member in arguments]
        return any(fits) or (None if None in fits and not _plain(value) else False)
    if origin is typing.Literal:
        return value in arguments
    if origin in (list, tuple, Sequence) and arguments:
        # tuple[float, ...] and tuple[float, float] alike: every item is a float
        return _all_fit(value, arguments[0]) if isinstance(value, list) else False
    if origin in (dict, Mapping) and len(arguments) == 2:
        return _all_fit(value.values(), arguments[1]) if isinstance(value, dict) else False
    if hint is typing.Any:
        return True
    return None  # a class (a Module, a Callable, a Tensor): built elsewhere, not given as a value


def _all_fit(values: Iterable, hint: object) -> bool | None:
    fits = [_fits(value, hint) for value in values]
    return False if False in fits else None if None in fits else True


def _describe(hint: object) -> str:
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if hint in WANTED:
        return WANTED[hint]
    if hint is type(None):
        return "null"
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, arguments))
    if origin in (list, tuple, Sequence):
        return f"a list of {_describe(arguments[0]).removeprefix('a ')}s, e.g. [a,b]"
    if origin in (dict, Mapping):
        return "a mapping, e.g. {a: 1}"
    if origin in (typing.Union, types.UnionType):
        literals = [
            value
            for member in arguments
            if typing.get_origin(member) is typing.Literal
            for value in typing.get_args(member)
        ]
        # A class among the alternatives is left unsaid: a config cannot write one as a value.
        others = [
            _describe(member)
            for member in arguments
            if typing.get_origin(member) is not typing.Literal and _fits(None, member) is not None
        ]
        return " or ".join(([_describe(typing.Literal[tuple(literals)])] if literals else []) + others)
    return getattr(hint, "__name__", str(hint))


def _builds(value: object) -> bool:
    """A nested `_target_` (or a list of them): checked on its own, not as a value."""
    if isinstance(value, list):
        return any(_builds(v) for v in value)
    return isinstance(value, dict) and "_target_" in value


def _check_node(node: dict, key: str) -> None:
    target = get_object(node["_target_"])
    try:
        hints = typing.get_type_hints(target.__init__ if inspect.isclass(target) else target)
    except NameError:  # an annotation naming an optional dependency's class (WandbLogger's wandb.Run)
        return
    defaults = inspect.signature(target).parameters
    for name, value in node.items():
        if name.startswith("_") or name not in hints or _builds(value):
            continue
        if _fits(value, hints[name]) is False:
            # photostyle's own defaults are sound examples; a framework's (max_steps=-1) may not be.
            default = defaults[name].default if name in defaults else None
            ours = node["_target_"].startswith("photostyle.")
            example = f", e.g. {key}{name}={default}" if ours and _plain(default) and default is not None else ""
            raise PhotostyleError(f"{key}{name}={value!r} must be {_describe(hints[name])}{example}")


def _walk(value: object, key: str) -> None:
    if isinstance(value, dict):
        if "_target_" in value:
            _check_node(value, key)
        for name, item in value.items():
            _walk(item, f"{key}{name}.")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{key}{index}.")


def check_value_types(cfg: DictConfig) -> None:
    """Refuse, naming the key, a value that does not fit its constructor argument's type."""
    if not _fits(cfg.seed, int):
        raise PhotostyleError(f"seed={cfg.seed!r} must be a whole number, e.g. seed=0")
    _walk(OmegaConf.to_container(cfg, resolve=True), "")
