"""Config values of the wrong type, and keys no constructor takes, refused in one line before
anything is built from them.

Every Hydra key under a `_target_` is an argument of that target's constructor, and the
constructors are annotated: `data.crop_size=abc` is checked against `crop_size: int` here,
instead of failing deep inside the target with a comparison of a string and an int.
"""

import inspect
import json
import os
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf

from photostyle.errors import PhotostyleError

# What a user is told to give, for the annotations a photostyle config uses.
WANTED = {int: "a whole number", float: "a number", bool: "true or false", str: "a text", Path: "a path"}
# A value copied from another key (`style_size: ${style.size}`) is that key's to fix.
INTERPOLATION = re.compile(r"^\$\{([\w.]+)\}$")


def _plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _fits(value: object, hint: object) -> bool | None:
    """Whether `value` fits the annotation `hint`; None when the annotation is beyond this check."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if hint is typing.Any:
        return True
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
        fits = [_fits(value, member) for member in arguments]
        if any(fits):
            return True
        # A class among the alternatives (a Tensor, an Accelerator) is built, never written as a
        # plain value: a plain value that fits none of the others is wrong.
        return None if None in fits and not _plain(value) else False
    if origin is typing.Literal:
        return value in arguments
    if origin in (list, tuple, Sequence) and arguments:
        # tuple[float, ...] and tuple[float, float] alike: every item is a float
        return _all_fit(value, arguments[0]) if isinstance(value, list) else False
    if origin in (dict, Mapping) and len(arguments) == 2:
        return _all_fit(value.values(), arguments[1]) if isinstance(value, dict) else False
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
        return "one of " + ", ".join(map(_show, arguments))
    if origin in (list, tuple, Sequence):
        return f"a list of {_describe(arguments[0]).removeprefix('a ')}s"
    if origin in (dict, Mapping):
        return "a mapping"
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


def _show(value: object) -> str:
    """A value as a Hydra override writes it: null, true, 'abc', [a, b]."""
    if isinstance(value, str):
        return repr(value)
    return json.dumps(value) if value is None or isinstance(value, bool | list | dict) else str(value)


def _refuse(key: str, value: object, hint: object) -> typing.NoReturn:
    # Hydra reads data.root=2024 as a number: say how to give it as a text.
    quote = f""" (quote it: "{key}='{value}'")""" if hint in (str, Path) and isinstance(value, int | float) else ""
    raise PhotostyleError(f"{key}={_show(value)} must be {_describe(hint)}{quote}")


def _check_value(key: str, value: object, raw: object, hint: object) -> None:
    if isinstance(raw, str) and (source := INTERPOLATION.match(raw)):
        key = source.group(1)
    if _fits(value, hint) is not False:
        return
    if typing.get_origin(hint) in (dict, Mapping) and isinstance(value, dict):  # name the item that is wrong
        for name, item in value.items():
            _check_value(
                f"{key}.{name}", item, raw.get(name) if isinstance(raw, dict) else None, typing.get_args(hint)[1]
            )
    _refuse(key, value, hint)


def _builds(value: object) -> bool:
    """A nested `_target_` (or a list of them): checked on its own, not as a value."""
    if isinstance(value, list):
        return any(_builds(v) for v in value)
    return isinstance(value, dict) and "_target_" in value


def _check_node(node: dict, raw: dict, key: str) -> None:
    try:
        target = get_object(node["_target_"])
        parameters = inspect.signature(target).parameters
        hints = typing.get_type_hints(target.__init__ if inspect.isclass(target) else target)
    # A target that does not import (Hydra then says so), a builtin type (timedelta), or an
    # annotation naming an optional dependency's class (WandbLogger's wandb.Run): not checked here.
    except (ImportError, ValueError, TypeError, NameError, AttributeError):
        return
    takes_any = any(parameter.kind is inspect.Parameter.VAR_KEYWORD for parameter in parameters.values())
    for name, value in node.items():
        if name.startswith("_"):
            continue
        if name not in parameters and not takes_any:  # a misspelt key, added with +
            raise PhotostyleError(
                f"{key}{name} is not a setting of {node['_target_']}; check its spelling"
                f" (its settings: {', '.join(parameters)})"
            )
        if name in hints and not _builds(value):
            _check_value(f"{key}{name}", value, raw.get(name), hints[name])


def _walk(value: object, raw: object, key: str) -> None:
    if isinstance(value, dict):
        raw = raw if isinstance(raw, dict) else {}
        if "_target_" in value:
            _check_node(value, raw, key)
        for name, item in value.items():
            _walk(item, raw.get(name), f"{key}{name}.")
    elif isinstance(value, list):
        raw = raw if isinstance(raw, list) and len(raw) == len(value) else [None] * len(value)
        for index, item in enumerate(value):
            _walk(item, raw[index], f"{key}{index}.")


def check_value_types(cfg: DictConfig) -> None:
    """Refuse, naming the key to fix, a value that does not fit its constructor argument's type,
    or a key that is no argument of its constructor."""
    _walk(OmegaConf.to_container(cfg, resolve=True), OmegaConf.to_container(cfg, resolve=False), "")
