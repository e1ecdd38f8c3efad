"""The one store for secrets (the hub token): the OS keyring, else a private file.

The keyring is whatever the ``keyring`` library finds: the Secret Service (GNOME Keyring,
KWallet), the macOS Keychain, the Windows Credential Locker. Where it finds none (a
headless machine, CI) or only its "fail" and "null" stand-ins, or where the keyring
refuses a write, secrets go to ``secrets.json`` in the config folder, readable by the
user only (mode 0600; a file found open to others has its mode fixed).

TOKENWISE_SECRETS_BACKEND chooses: ``file`` always uses the file (the tests set it, so
no test touches the user's keyring), ``keyring`` always the keyring, anything else or
unset the keyring where a usable one exists. Names, never values, reach the log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tokenwise.core import paths

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

SERVICE = "Tokenwise"  # the keyring's service name; the secret's name is its user name
BACKEND_ENV = "TOKENWISE_SECRETS_BACKEND"
FILE_NAME = "secrets.json"


def secrets_path() -> Path:
    return paths.config_dir() / FILE_NAME


def get_secret(name: str) -> str | None:
    """The secret called ``name``, or None."""
    ring = _keyring()
    if ring is not None:
        try:
            value = ring.get_password(SERVICE, name)
        except Exception as exc:  # a locked or broken keyring: the file may still have it
            log.warning("secrets: the keyring could not read %s (%s)", name, type(exc).__name__)
        else:
            if value is not None:
                return value
    return _read_file().get(name)


def set_secret(name: str, value: str) -> None:
    """Keep ``value`` as ``name``, replacing an earlier one."""
    ring = _keyring()
    if ring is not None:
        try:
            ring.set_password(SERVICE, name, value)
        except Exception as exc:
            log.warning(
                "secrets: the keyring refused %s (%s); keeping it in %s instead",
                name, type(exc).__name__, secrets_path(),
            )
        else:
            _forget_in_file(name)  # no older copy left behind in the file
            return
    stored = _read_file()
    stored[name] = value
    _write_file(stored)


def delete_secret(name: str) -> None:
    """Forget ``name`` wherever it is kept; nothing happens if it is not."""
    ring = _keyring()
    if ring is not None:
        from keyring.errors import PasswordDeleteError

        try:
            ring.delete_password(SERVICE, name)
        except PasswordDeleteError:
            pass  # it was not there
        except Exception as exc:
            log.warning("secrets: the keyring could not delete %s (%s)", name, type(exc).__name__)
    _forget_in_file(name)


def backend_name() -> str:
    """Where secrets go now, in words, for a settings page or a log line."""
    ring = _keyring()
    if ring is not None:
        return f"the system keyring ({type(ring).__name__})"
    return f"the file {secrets_path()}"


# ----- the keyring ---------------------------------------------------------------------
def _keyring() -> KeyringBackend | None:
    """The keyring to use, or None for the file."""
    choice = os.environ.get(BACKEND_ENV, "").strip().lower()
    if choice == "file":
        return None
    try:
        import keyring
    except ImportError:
        return None
    try:
        ring = keyring.get_keyring()
    except Exception as exc:
        log.warning("secrets: no keyring (%s); using %s", type(exc).__name__, secrets_path())
        return None
    return ring if choice == "keyring" or usable(ring) else None


def usable(ring: KeyringBackend) -> bool:
    """Whether ``ring`` stores anything: not keyring's "fail" or "null" stand-in, nor a
    chain of only those."""
    from keyring.backends import chainer, fail, null

    if isinstance(ring, chainer.ChainerBackend):
        return any(usable(backend) for backend in ring.backends)
    return not isinstance(ring, fail.Keyring | null.Keyring)


# ----- the file --------------------------------------------------------------------------
def _read_file() -> dict[str, str]:
    path = secrets_path()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("secrets: %s could be read by other users; it is now private", path)
        path.chmod(0o600)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("secrets: cannot read %s (%s); it is treated as empty",
                    path, type(exc).__name__)
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _write_file(stored: dict[str, str]) -> None:
    """Replace the file atomically; the temporary file is private from its creation."""
    path = secrets_path()
    if not stored:
        path.unlink(missing_ok=True)
        return
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes it 0600 already; say so anyway
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(stored, handle, indent=2, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


def _forget_in_file(name: str) -> None:
    stored = _read_file()
    if name in stored:
        del stored[name]
        _write_file(stored)
