"""What the training CLIs share: recipe parsing (TrlParser), CPU defaults, clean error exits."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

SECTIONS = ("sft", "reward", "grpo", "tiny", "learn")  # tiny, learn: read by training.learn
# Recipe keys holding a local path: a relative one resolves against the recipe's folder, so a recipe
# means the same from any current folder. model_name_or_path may be a hub id (org/name), so it
# resolves only when written as a path (./ or ../) or when that folder exists.
PATH_KEYS = ("release", "train_file", "validation_file", "output_dir", "reward_model_path")
MODEL_KEYS = ("model_name_or_path",)


class TrainingInputError(ValueError):
    """Bad input from the user (paths, recipe, data): reported as one line, exit code 2."""


def run_main(main: Callable[[], int]) -> int:
    try:
        return main()
    except (TrainingInputError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def recipe_defaults(config_path: str, section: str) -> dict[str, Any]:
    """A recipe holds shared top-level keys plus one block per script (`sft:`, `reward:`, `grpo:`).

    The script's block wins over the shared keys; the other scripts' blocks are ignored.
    """
    path = Path(config_path)
    if not path.is_file():
        raise TrainingInputError(f"recipe not found: {config_path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise TrainingInputError(f"recipe {config_path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TrainingInputError(f"recipe {config_path} must be a YAML mapping")
    merged = {k: v for k, v in raw.items() if k not in SECTIONS}
    block = raw.get(section) or {}
    if not isinstance(block, dict):
        raise TrainingInputError(f"recipe {config_path}: `{section}:` must be a mapping")
    merged.update(block)
    return _resolve_paths(merged, path.resolve().parent)


def _resolve_paths(values: dict[str, Any], base: Path) -> dict[str, Any]:
    out = dict(values)
    for key, value in values.items():
        if not isinstance(value, str) or not value or Path(value).is_absolute():
            continue
        resolved = base / value
        if key in PATH_KEYS or (key in MODEL_KEYS and (value.startswith(("./", "../")) or resolved.exists())):
            out[key] = str(resolved.resolve())
    return out


def parse_config(
    dataclass_types: Sequence[type],
    section: str,
    argv: list[str] | None = None,
    script_defaults: dict[str, Any] | None = None,
    description: str | None = None,
) -> tuple:
    """TrlParser over `dataclass_types`: defaults < script/machine defaults < recipe (`--config`) < CLI."""
    import torch
    from trl import TrlParser

    args = list(sys.argv[1:] if argv is None else argv)
    import argparse

    epilog = (
        f"--config RECIPE.yaml  a recipe (training/recipes/*.yaml): its shared top-level keys and its "
        f"`{section}:` block set the defaults of the flags above; flags given here override it."
    )
    parser = TrlParser(
        tuple(dataclass_types),
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    names = {action.dest for action in parser._actions}
    defaults: dict[str, Any] = dict(script_defaults or {})
    if not torch.cuda.is_available():
        # TRL defaults to bf16 (which fails without a GPU) and activation checkpointing (only slower on CPU).
        defaults.update(
            {
                k: v
                for k, v in {"bf16": False, "use_cpu": True, "activation_checkpointing": False}.items()
                if k in names
            }
        )
    if "--config" in args:
        index = args.index("--config")
        if index + 1 >= len(args):
            raise TrainingInputError("--config needs a recipe path")
        config_path = args[index + 1]
        del args[index : index + 2]
        recipe = recipe_defaults(config_path, section)
        unknown = sorted(k for k in recipe if k not in names)
        if unknown:
            raise TrainingInputError(
                f"recipe {config_path}: unknown keys for {section}: {', '.join(unknown)}"
            )
        defaults.update(recipe)
    parser.set_defaults_with_config(**defaults)
    try:
        return tuple(parser.parse_args_into_dataclasses(args=args))
    except ValueError as exc:
        raise TrainingInputError(_explain(exc)) from exc


def _explain(exc: ValueError) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
    if "bf16" in message or "use_cpu" in message:
        message += " (no GPU here: pass --bf16 false --use_cpu true, or use training/recipes/tiny-cpu.yaml)"
    return message


def check_model_path(path: str, what: str) -> None:
    """A local folder must exist; a hub id (org/name) is left for transformers to resolve."""
    p = Path(path)
    looks_local = p.is_absolute() or path.startswith(".") or p.exists() or path.count("/") != 1
    if looks_local and not (p / "config.json").is_file():
        raise TrainingInputError(
            f"{what} {path!r} is not a model folder (no config.json); build one with "
            f"`python -m training.tiny --out {path}` or train the previous stage first"
        )


def load_pretrained(loader, path: str, what: str, **kwargs):
    """`loader.from_pretrained` with a one-line error (no hub here: a missing folder is the usual cause)."""
    try:
        return loader.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise TrainingInputError(f"cannot load {what} from {path!r}: {first}") from exc


def summarize_log(log_history: list[dict[str, Any]], prefix: str) -> dict[str, float]:
    """Mean of every logged metric that starts with `prefix`, over the training run."""
    sums: dict[str, list[float]] = {}
    for entry in log_history:
        for key, value in entry.items():
            if key.startswith(prefix) and isinstance(value, (int, float)):
                sums.setdefault(key, []).append(float(value))
    return {k: sum(v) / len(v) for k, v in sums.items()}


def resolve_resume(value: str | None, output_dir: str) -> str | None:
    """`last`/`true` means the newest checkpoint in output_dir."""
    from transformers.trainer_utils import get_last_checkpoint

    if value is None or value.lower() in ("", "false", "none"):
        return None
    if value.lower() in ("last", "true"):
        last = get_last_checkpoint(output_dir) if Path(output_dir).is_dir() else None
        if last is None:
            raise TrainingInputError(f"--resume_from_checkpoint {value}: no checkpoint in {output_dir}")
        return last
    if not Path(value).is_dir():
        raise TrainingInputError(f"--resume_from_checkpoint: {value} is not a checkpoint folder")
    return value
