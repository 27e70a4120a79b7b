"""The secret salt of asker and author pseudonyms: one per dataset, never in argv, never in the output.

Where a run finds it, first match wins:
1. the `salt_file` setting (`--salt-file FILE`: a path, never the salt itself);
2. the public demo salt, only with `--demo-salt` (the demo and tests; its pseudonyms are not secret);
3. `$EMPATHYQA_SALT` (the value), then `$EMPATHYQA_SALT_FILE` (a file holding it);
4. `SALT_FILE_NAME` beside the output folder (`data/.empathyqa-salt` for `--out data/curated`): read when
   it is there, generated (a random 256-bit secret, mode 0600) on the first run that finds none.

Builders of one dataset share the file privately. The output manifest carries the salt's fingerprint
(a hash, not the salt): a run refuses to write into a folder made with another salt.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

DEMO_SALT = "empathyqa-dev-salt"
SALT_FILE_NAME = ".empathyqa-salt"


class SaltError(RuntimeError):
    """No usable salt, or one that differs from the salt an output folder was made with."""


@dataclass(frozen=True)
class Salt:
    value: str
    source: str  # env | file | generated | demo | config

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.value)


def fingerprint(salt: str) -> str:
    return hashlib.sha256(f"empathyqa-salt-fingerprint\x00{salt}".encode()).hexdigest()[:16]


def _read(path: Path) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SaltError(f"salt file {path} cannot be read: {exc.strerror}") from exc
    if not value:
        raise SaltError(f"salt file {path} is empty")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(f"warning: salt file {path} is readable by others; run chmod 600 {path}", file=sys.stderr)
    return value


def _generate(path: Path) -> str:
    value = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return value


def default_salt_file(out: Path) -> Path:
    return Path(out).absolute().parent / SALT_FILE_NAME


def resolve_salt(
    out: Path | None, *, salt_file: str | None = None, demo: bool = False, configured: str | None = None
) -> Salt:
    """The run's salt (see the module docstring); says on stderr where it lives."""
    if configured:
        return Salt(configured, "config")
    if salt_file:
        print(f"salt: from {salt_file}", file=sys.stderr)
        return Salt(_read(Path(salt_file)), "file")
    if demo:
        print("salt: the public demo salt (--demo-salt): pseudonyms are NOT secret", file=sys.stderr)
        return Salt(DEMO_SALT, "demo")
    if os.environ.get("EMPATHYQA_SALT"):
        print("salt: from $EMPATHYQA_SALT", file=sys.stderr)
        return Salt(os.environ["EMPATHYQA_SALT"], "env")
    if os.environ.get("EMPATHYQA_SALT_FILE"):
        named = os.environ["EMPATHYQA_SALT_FILE"]
        print(f"salt: from {named} ($EMPATHYQA_SALT_FILE)", file=sys.stderr)
        return Salt(_read(Path(named)), "file")
    if out is None:
        raise SaltError(
            "no salt: set $EMPATHYQA_SALT_FILE or $EMPATHYQA_SALT, or pass --demo-salt for a demo"
        )
    path = default_salt_file(out)
    if path.exists():
        print(f"salt: from {path}", file=sys.stderr)
        return Salt(_read(path), "file")
    value = _generate(path)
    print(
        f"salt: generated a new secret salt in {path} (mode 0600; keep it out of git and share it only "
        "with the people who build this dataset)",
        file=sys.stderr,
    )
    return Salt(value, "generated")


def check_same_salt(folder_fingerprint: str | None, salt: Salt, folder: Path) -> None:
    if folder_fingerprint and folder_fingerprint != salt.fingerprint:
        raise SaltError(
            f"{folder} was made with another salt (fingerprint {folder_fingerprint}, this run's is "
            f"{salt.fingerprint}): use that dataset's salt file or write to another folder"
        )
