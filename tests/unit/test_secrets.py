"""The secrets store: the private file where no keyring is usable (and always in tests),
the keyring where there is one, shown with a real keyring backend kept in memory."""

from __future__ import annotations

import json
import logging
import os
import stat

import keyring
import keyring.core
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import PasswordDeleteError, PasswordSetError

from tokenwise.core import paths, secrets
from tokenwise.core.models import hub
from tokenwise.core.settings import load_settings, save_settings


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps passwords in a dict: the library's own interface."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.passwords[(service, username)]
        except KeyError:
            raise PasswordDeleteError(username) from None


class LockedKeyring(MemoryKeyring):
    def set_password(self, service: str, username: str, password: str) -> None:
        raise PasswordSetError("the collection is locked")


@pytest.fixture
def system_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the store look for a keyring as outside the tests; the backend it finds is the
    one each test sets (restored afterwards, so the user's keyring is never asked)."""
    monkeypatch.delenv(secrets.BACKEND_ENV)
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())


def _mode(path: os.PathLike[str]) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_tests_keep_secrets_in_a_file() -> None:
    assert os.environ[secrets.BACKEND_ENV] == "file"
    assert secrets.backend_name() == f"the file {secrets.secrets_path()}"
    assert secrets.secrets_path().parent == paths.config_dir()


def test_round_trip_in_a_private_file() -> None:
    assert secrets.get_secret("api") is None
    secrets.set_secret("api", "s3cret")
    secrets.set_secret("other", "value")
    secrets.set_secret("api", "s3cret-2")
    assert secrets.get_secret("api") == "s3cret-2"
    path = secrets.secrets_path()
    assert json.loads(path.read_text(encoding="utf-8")) == {"api": "s3cret-2", "other": "value"}
    if os.name == "posix":
        assert _mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secrets.json"]  # no temp files
    secrets.delete_secret("api")
    assert secrets.get_secret("api") is None
    assert secrets.get_secret("other") == "value"
    secrets.delete_secret("api")  # deleting what is not there is no error
    secrets.delete_secret("other")
    assert not path.exists()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_file_open_to_others_is_made_private(caplog: pytest.LogCaptureFixture) -> None:
    secrets.set_secret("api", "s3cret")
    path = secrets.secrets_path()
    path.chmod(0o644)
    with caplog.at_level(logging.DEBUG):
        assert secrets.get_secret("api") == "s3cret"
    assert _mode(path) == 0o600
    assert "could be read by other users" in caplog.text
    assert "s3cret" not in caplog.text


def test_a_damaged_file_reads_as_empty(caplog: pytest.LogCaptureFixture) -> None:
    secrets.secrets_path().write_text('{"api": "s3cr', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert secrets.get_secret("api") is None
    assert "cannot read" in caplog.text
    assert "s3cr" not in caplog.text
    secrets.set_secret("api", "fresh")
    assert secrets.get_secret("api") == "fresh"


def test_the_token_reaches_neither_the_settings_nor_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "hf_DoNotLeakThisToken"
    with caplog.at_level(logging.DEBUG):
        hub.save_token(token)
        save_settings(load_settings())
        assert hub.token() == token
        secrets.secrets_path().chmod(0o644)  # a warning is logged: without the value
        assert hub.saved_token() == token
    assert caplog.records
    assert token not in caplog.text
    assert token not in paths.settings_path().read_text(encoding="utf-8")
    others = [p for p in paths.config_dir().rglob("*") if p.is_file()
              and p != secrets.secrets_path()]
    assert paths.settings_path() in others
    for path in others:
        assert token not in path.read_text(encoding="utf-8", errors="replace"), path


def test_no_usable_keyring_means_the_file(system_keyring: None) -> None:
    keyring.set_keyring(fail.Keyring())
    secrets.set_secret("api", "s3cret")
    assert secrets.get_secret("api") == "s3cret"
    assert json.loads(secrets.secrets_path().read_text(encoding="utf-8")) == {"api": "s3cret"}
    assert secrets.backend_name().startswith("the file")
    keyring.set_keyring(null.Keyring())
    assert secrets.get_secret("api") == "s3cret"
    secrets.delete_secret("api")
    assert secrets.get_secret("api") is None


def test_a_chain_of_stand_ins_is_not_a_keyring() -> None:
    class StandIns(chainer.ChainerBackend):
        backends = (fail.Keyring(), null.Keyring())  # type: ignore[assignment]

    class WithMemory(chainer.ChainerBackend):
        backends = (null.Keyring(), MemoryKeyring())  # type: ignore[assignment]

    class Empty(chainer.ChainerBackend):
        backends = ()  # type: ignore[assignment]

    assert not secrets.usable(StandIns())
    assert not secrets.usable(Empty())
    assert secrets.usable(WithMemory())
    assert secrets.usable(MemoryKeyring())
    assert not secrets.usable(fail.Keyring())


def test_a_usable_keyring_is_used(system_keyring: None) -> None:
    secrets.set_secret("api", "from-the-file")  # before a keyring appeared
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    assert secrets.backend_name() == "the system keyring (MemoryKeyring)"
    assert secrets.get_secret("api") == "from-the-file"  # still found
    secrets.set_secret("api", "s3cret")
    assert ring.passwords == {(secrets.SERVICE, "api"): "s3cret"}
    assert not secrets.secrets_path().exists()  # the older copy in the file is gone
    assert secrets.get_secret("api") == "s3cret"
    hub.save_token("hf_token_in_keyring")
    assert ring.passwords[(secrets.SERVICE, hub.TOKEN_SECRET)] == "hf_token_in_keyring"
    assert hub.token() == "hf_token_in_keyring"
    secrets.delete_secret("api")
    hub.save_token(None)
    assert ring.passwords == {}
    secrets.delete_secret("api")  # the keyring's "not there" is no error


def test_the_variable_overrides_the_keyring(
    system_keyring: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    monkeypatch.setenv(secrets.BACKEND_ENV, "file")
    secrets.set_secret("api", "s3cret")
    assert ring.passwords == {}
    assert secrets.secrets_path().exists()
    monkeypatch.setenv(secrets.BACKEND_ENV, "keyring")
    keyring.set_keyring(null.Keyring())  # forced, even where it looks unusable
    assert secrets.backend_name() == "the system keyring (Keyring)"


def test_a_keyring_that_refuses_keeps_the_secret_in_the_file(
    system_keyring: None, caplog: pytest.LogCaptureFixture
) -> None:
    keyring.set_keyring(LockedKeyring())
    with caplog.at_level(logging.WARNING):
        secrets.set_secret("api", "s3cret")
    assert "refused api" in caplog.text
    assert "s3cret" not in caplog.text
    assert secrets.get_secret("api") == "s3cret"
    assert json.loads(secrets.secrets_path().read_text(encoding="utf-8")) == {"api": "s3cret"}
