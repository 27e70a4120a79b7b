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
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from transformers import HfArgumentParser

T = TypeVar("T")


def dataclass_parser(cls: type, with_config: bool = True) -> HfArgumentParser:
    """HfArgumentParser's flags for `cls` (`--field_name` and `--field-name`), with every default
    suppressed so that only flags given on the command line override the YAML file."""
    parser = HfArgumentParser(add_help=False)
    if with_config:
        parser.add_argument(
            "--config", type=Path, default=None, help="YAML file of settings (flags override it)"
        )
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init or f.metadata.get("cli") is False:
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        default = None if default is dataclasses.MISSING else default
        meta = {k: v for k, v in f.metadata.items() if k != "cli"}
        meta["help"] = (
            f"{meta['help']} (default: {default!r})" if meta.get("help") else f"default: {default!r}"
        )
        resolved = dataclasses.field(default=default, metadata=meta)
        resolved.name, resolved.type = f.name, hints[f.name]
        HfArgumentParser._parse_dataclass_field(parser, resolved)
        negated = "--no-" + f.name.replace("_", "-")
        if hints[f.name] is bool and negated not in parser._option_string_actions:
            parser.add_argument(negated, dest=f.name, action="store_false", help=argparse.SUPPRESS)
        parser.set_defaults(**{f.name: argparse.SUPPRESS})
    for action in parser._actions:  # help and usage show the hyphenated spelling, as the README does
        action.option_strings.sort(key=lambda option: "_" in option)
    return parser


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, with_config: bool = True) -> None:
    """Add `cls`'s flags to an existing parser (one with positionals or subcommands of its own)."""
    parser._add_container_actions(dataclass_parser(cls, with_config))


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise SystemExit(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise SystemExit(f"config file {path} is not valid YAML: {exc}") from exc
    if isinstance(data, dict):
        return data
    raise SystemExit(f"config file {path} must hold a mapping of settings, not {type(data).__name__}")


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
