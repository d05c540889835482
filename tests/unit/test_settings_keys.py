"""Admin and credential keys: never empty, created atomically and privately, from env or file."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from returnbridge.settings import MIN_ADMIN_KEY_LENGTH, Settings, SettingsError


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ADMIN_KEY", "SECRET_KEY", "SECRET_KEY_FILE", "DATA_DIR"):
        monkeypatch.delenv(f"RETURNBRIDGE_{name}", raising=False)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("value", ["", " ", "\t\n", "\xa0"])
def test_blank_admin_key_from_the_environment_is_refused(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETURNBRIDGE_ADMIN_KEY", value)
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(SettingsError, match="RETURNBRIDGE_ADMIN_KEY is empty"):
        _ = settings.resolved_admin_key


def test_short_admin_key_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, admin_key="x" * (MIN_ADMIN_KEY_LENGTH - 1))
    with pytest.raises(SettingsError, match=f"at least {MIN_ADMIN_KEY_LENGTH} characters"):
        _ = settings.resolved_admin_key


def test_admin_key_from_the_environment_is_used_as_given(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, admin_key="k" * MIN_ADMIN_KEY_LENGTH)
    assert settings.resolved_admin_key == "k" * MIN_ADMIN_KEY_LENGTH
    assert settings.admin_key_origin == "RETURNBRIDGE_ADMIN_KEY"
    assert not (tmp_path / "admin.key").exists()


def test_generated_admin_key_file_is_private_and_stable(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path / "data").resolved_admin_key
    second = Settings(data_dir=tmp_path / "data").resolved_admin_key
    path = tmp_path / "data" / "admin.key"
    assert first == second
    assert len(first) >= MIN_ADMIN_KEY_LENGTH
    assert mode(path) == 0o600
    assert Settings(data_dir=tmp_path / "data").admin_key_origin == str(path.resolve())
    assert sorted(p.name for p in path.parent.iterdir()) == ["admin.key"]  # no temp files left


def test_concurrent_first_starts_agree_on_one_admin_key(tmp_path: Path) -> None:
    keys: list[str] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        keys.append(Settings(data_dir=tmp_path).resolved_admin_key)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1
    assert keys[0]


@pytest.mark.parametrize("content", ["", "\n", "   \n"])
@pytest.mark.parametrize("name", ["admin.key", "secret.key"])
def test_an_existing_empty_key_file_is_an_error_not_reused(
    name: str, content: str, tmp_path: Path
) -> None:
    (tmp_path / name).write_text(content)
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(SettingsError, match="is empty"):
        _ = settings.resolved_admin_key if name == "admin.key" else settings.resolved_secret_key
    assert (tmp_path / name).read_text() == content  # left for the operator to look at


def test_an_unreadable_admin_key_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "admin.key").mkdir()
    with pytest.raises(SettingsError, match="cannot read the admin key"):
        _ = Settings(data_dir=tmp_path).resolved_admin_key


def test_a_short_admin_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "admin.key").write_text("short\n")
    with pytest.raises(SettingsError, match=f"at least {MIN_ADMIN_KEY_LENGTH} characters"):
        _ = Settings(data_dir=tmp_path).resolved_admin_key


def test_blank_secret_key_from_the_environment_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETURNBRIDGE_SECRET_KEY", " ")
    with pytest.raises(SettingsError, match="RETURNBRIDGE_SECRET_KEY is empty"):
        _ = Settings(data_dir=tmp_path).resolved_secret_key


def test_secret_key_file_outside_the_data_dir_is_created_privately_and_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    monkeypatch.setenv("RETURNBRIDGE_SECRET_KEY_FILE", str(keys / "credentials.key"))
    key = Settings(data_dir=tmp_path / "data").resolved_secret_key
    assert (keys / "credentials.key").read_text().strip() == key
    assert mode(keys / "credentials.key") == 0o600
    assert not (tmp_path / "data" / "secret.key").exists()
    assert Settings(data_dir=tmp_path / "data").resolved_secret_key == key


def test_existing_secret_key_file_is_read(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    (tmp_path / "given.key").write_text(f"{key}\n")
    settings = Settings(data_dir=tmp_path / "data", secret_key_file=tmp_path / "given.key")
    assert settings.resolved_secret_key == key


def test_secret_key_from_the_environment_wins_over_a_key_file(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, secret_key="from-env", secret_key_file=tmp_path / "unused.key"
    )
    assert settings.resolved_secret_key == "from-env"
    assert not (tmp_path / "unused.key").exists()
