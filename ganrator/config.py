"""Typed dataclass configs: build from a dict with loud unknown keys, and expose every field as a CLI flag."""
from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config key or value that the config class does not accept."""


def field_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def from_dict(cls: type[T], values: dict[str, Any], where: str = "") -> T:
    """`cls(**values)`, but an unknown key names the valid ones instead of a bare TypeError."""
    valid = field_names(cls)
    unknown = sorted(set(values) - set(valid))
    if unknown:
        origin = f" in {where}" if where else ""
        raise ConfigError(
            f"Unknown {cls.__name__} key(s){origin}: {', '.join(unknown)}. Valid keys: {', '.join(valid)}"
        )
    return cls(**values)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def json_object(text: str) -> dict:
    """argparse type for dict fields: a JSON object, or a message that shows what one looks like."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"not a JSON object: {text!r} (write e.g. '{{\"width\": 64}}')")
    return value


def add_dataclass_flags(parser: argparse.ArgumentParser, cls) -> None:
    """One flag per field (`lr` -> `--lr`); defaults come from the dataclass, help from its comment-free name."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        origin = typing.get_origin(tp)
        if tp is bool:
            parser.add_argument(_flag(f.name), dest=f.name, action=argparse.BooleanOptionalAction, default=default)
        elif tp is dict or origin is dict:
            parser.add_argument(_flag(f.name), dest=f.name, type=json_object, default=default,
                                metavar="JSON", help=f"JSON object (default: {json.dumps(default)})")
        elif tp in (int, float, str):
            choices = getattr(cls, "CHOICES", {}).get(f.name)
            parser.add_argument(_flag(f.name), dest=f.name, type=tp, default=default, choices=choices,
                                help=f"(default: {default})")
        else:  # Optional[...] and the like: accept the inner scalar type
            inner = [a for a in typing.get_args(tp) if a is not type(None)]
            parser.add_argument(_flag(f.name), dest=f.name, type=inner[0] if inner else str, default=default,
                                help=f"(default: {default})")


def pick(cls: type[T], namespace: argparse.Namespace) -> T:
    """Build `cls` from the parsed flags that belong to it."""
    return cls(**{n: getattr(namespace, n) for n in field_names(cls)})
