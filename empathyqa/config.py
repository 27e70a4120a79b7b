"""Configuration as dataclasses with defaults, overridable by a YAML file and then by CLI flags.

    @dataclass
    class DraftConfig:
        model: str = field(default="gpt-4o-mini", metadata={"help": "model name at the endpoint"})

    parser = argparse.ArgumentParser(...)
    add_dataclass_arguments(parser, DraftConfig)
    config = dataclass_from_args(DraftConfig, parser.parse_args(argv))

Precedence: dataclass default < `--config FILE.yaml` < flags given on the command line.
Secrets never live here: they come from the environment.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


def _base_type(annotation: Any) -> tuple[Any, bool]:
    """(the type argparse should parse, whether it is a list) for a field annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if args else (str, False)
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return (args[0] if args else str), True
    if origin is typing.Literal:
        return str, False
    return annotation, False


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, with_config: bool = True) -> None:
    hints = typing.get_type_hints(cls)
    if with_config:
        parser.add_argument(
            "--config", type=Path, default=None, help="YAML file of settings (flags override it)"
        )
    for f in dataclasses.fields(cls):
        if not f.init or f.metadata.get("cli") is False:
            continue
        kind, is_list = _base_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        help_text = f.metadata.get("help", "")
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        help_text = f"{help_text} (default: {default!r})" if help_text else f"default: {default!r}"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        choices = f.metadata.get("choices") or (
            typing.get_args(hints[f.name]) if typing.get_origin(hints[f.name]) is typing.Literal else None
        )
        if choices:
            kwargs["choices"] = list(choices)
        if kind is bool and not is_list:
            parser.add_argument(flag, nargs="?", const=True, type=_parse_bool, **kwargs)
            parser.add_argument(
                "--no-" + f.name.replace("_", "-"),
                dest=f.name,
                action="store_false",
                default=argparse.SUPPRESS,
                help=argparse.SUPPRESS,
            )
        elif is_list:
            parser.add_argument(flag, nargs="+", type=kind if kind in (int, float) else str, **kwargs)
        else:
            parser.add_argument(flag, type=kind if kind in (int, float, Path) else str, **kwargs)


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise SystemExit(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SystemExit(f"config file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SystemExit(f"config file {path} must hold a mapping of settings, not {type(data).__name__}")
    return data


def build_config(cls: type[T], overrides: dict[str, Any], config_file: str | Path | None = None) -> T:
    """Dataclass from defaults, then the YAML file, then explicit overrides; unknown keys are an error."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    values: dict[str, Any] = {}
    if config_file:
        from_file = load_yaml(config_file)
        unknown = sorted(set(from_file) - names)
        if unknown:
            raise SystemExit(
                f"{config_file}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
            )
        values.update(from_file)
    values.update({k: v for k, v in overrides.items() if k in names})
    return cls(**values)


def dataclass_from_args(cls: type[T], namespace: argparse.Namespace) -> T:
    args = vars(namespace)
    return build_config(cls, args, args.get("config"))
