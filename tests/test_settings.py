"""Settings refuse weak or default secrets where it matters."""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from core.settings import DEV_KEY_FILE, DEV_SECRETS_FILE, Settings


def _keys(**values: str) -> dict[str, SecretStr]:
    return {kid: SecretStr(value) for kid, value in values.items()}


def test_prod_refuses_to_run_without_keys(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="needs RILON_JWT_KEYS"):
        Settings(env="prod", dev_key_dir=tmp_path)


def test_short_keys_are_refused_everywhere(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        Settings(env="dev", jwt_secret="short")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="shorter than 32 bytes"):
        Settings(jwt_keys=_keys(k1="short"))


def test_prod_refuses_a_short_bootstrap_secret() -> None:
    with pytest.raises(ValidationError, match="BOOTSTRAP_ADMIN_SECRET is shorter"):
        Settings(
            env="prod",
            jwt_secret="s" * 40,  # type: ignore[arg-type]
            secrets_key="k" * 40,  # type: ignore[arg-type]
            bootstrap_admin_id="rso-admin",
            bootstrap_admin_secret="admin",  # type: ignore[arg-type]
        )


def test_prod_needs_a_secrets_key() -> None:
    with pytest.raises(ValidationError, match="RILON_SECRETS_KEY"):
        Settings(env="prod", jwt_secret="s" * 40)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="shorter than 32"):
        Settings(secrets_key="short")  # type: ignore[arg-type]


def test_dev_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    first = Settings(env="dev", dev_key_dir=tmp_path).signing_keys()
    again = Settings(env="dev", dev_key_dir=tmp_path).signing_keys()
    assert first == again
    assert len(next(iter(first[1].values()))) >= 32
    assert (tmp_path / DEV_KEY_FILE).stat().st_mode & 0o077 == 0


def test_key_table_with_a_chosen_signing_key() -> None:
    settings = Settings(jwt_keys=_keys(old="o" * 40, new="n" * 40), jwt_signing_kid="new")
    kid, keys = settings.signing_keys()
    assert kid == "new"
    assert set(keys) == {"old", "new"}
    with pytest.raises(ValidationError, match="names no key"):
        Settings(jwt_keys=_keys(old="o" * 40), jwt_signing_kid="new")


def test_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RILON_JWT_KEYS", '{"2026-11": "' + "a" * 40 + '"}')
    monkeypatch.setenv("RILON_ENV", "prod")
    monkeypatch.setenv("RILON_SECRETS_KEY", "k" * 40)
    settings = Settings()
    assert settings.signing_keys()[0] == "2026-11"


def test_dev_secret_is_one_secret_however_many_workers_race(tmp_path: Path) -> None:
    """`rilon serve --workers N`: every worker generates the dev keys at the same moment."""
    racers = 8
    for round_ in range(10):
        directory = tmp_path / str(round_)
        directory.mkdir()
        start = threading.Barrier(racers)

        def generate(
            _: int, directory: Path = directory, start: threading.Barrier = start
        ) -> bytes:
            start.wait()
            return Settings(env="dev", dev_key_dir=directory).signing_keys()[1].popitem()[1]

        with ThreadPoolExecutor(racers) as pool:
            secrets = set(pool.map(generate, range(racers)))
        assert len(secrets) == 1
        assert len(secrets.pop()) >= 32
        assert [p.name for p in directory.iterdir()] == [DEV_KEY_FILE]  # no temporary left


@pytest.mark.parametrize("name", [DEV_KEY_FILE, DEV_SECRETS_FILE])
def test_a_dev_key_file_too_short_to_be_a_key_is_refused(tmp_path: Path, name: str) -> None:
    """An emptied or hand-edited key file was used as it stood: tokens signed with an empty
    HMAC key, which anyone can forge."""
    (tmp_path / name).write_bytes(b"\n")
    settings = Settings(env="dev", dev_key_dir=tmp_path)
    read = settings.signing_keys if name == DEV_KEY_FILE else settings.secrets_key_bytes
    with pytest.raises(ValueError, match="fewer than 32 bytes"):
        read()


def test_a_dev_key_directory_that_is_not_there_is_named(tmp_path: Path) -> None:
    settings = Settings(env="dev", dev_key_dir=tmp_path / "missing")
    with pytest.raises(ValueError, match="RILON_DEV_KEY_DIR"):
        settings.signing_keys()


def test_a_lease_no_longer_than_an_attempt_is_refused() -> None:
    """A lease that runs out while its attempt still waits on a slow receiver lets the
    delivery be claimed and sent again. The docs said to keep it longer; nothing checked."""
    with pytest.raises(ValidationError, match="RILON_DELIVERY_LEASE_SECONDS"):
        Settings(delivery_lease_seconds=15)  # the webhook timeout's default: 15 s
    with pytest.raises(ValidationError, match="RILON_DELIVERY_LEASE_SECONDS"):
        Settings(webhook_timeout_seconds=120)  # allowed up to 300; the lease's default is 60
    Settings(delivery_lease_seconds=16)


def test_a_bootstrap_admin_needs_both_halves_and_an_id_that_fits() -> None:
    """The id alone started a service without its admin and said nothing; an id over 64
    characters stopped start-up on PostgreSQL with "the audit trail refused this row"."""
    with pytest.raises(ValidationError, match="go together"):
        Settings(bootstrap_admin_id="rso-admin")
    with pytest.raises(ValidationError, match="go together"):
        Settings(bootstrap_admin_secret="b" * 40)  # type: ignore[arg-type]
    for wrong in ("a" * 65, "rso admin", "rso:admin", "rsö-admin"):
        with pytest.raises(ValidationError, match="RILON_BOOTSTRAP_ADMIN_ID"):
            Settings(bootstrap_admin_id=wrong, bootstrap_admin_secret="b" * 40)  # type: ignore[arg-type]
    Settings(bootstrap_admin_id="rso-bootstrap-admin", bootstrap_admin_secret="b" * 40)  # type: ignore[arg-type]
