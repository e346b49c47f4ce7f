"""Settings: typed, frozen, one clear line per bad value, secrets masked."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated

import msgspec
import pytest
import structlog

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.observability import configure_logging
from neuralbridge.core.settings import (
    CommonSettings,
    Secret,
    load_env,
    load_settings,
    nats_auth,
    nats_servers,
)


class Sample(CommonSettings, frozen=True, kw_only=True):
    worker_concurrency: Annotated[int, msgspec.Meta(ge=1)] = 4
    required_name: str
    cache_enabled: bool = True
    schedule: tuple[float, ...] = (30.0, 120.0)
    openai_api_key: Secret | None = None


def test_load_settings_valid_env_converts_types() -> None:
    """Strings from the environment become ints, bools, floats and tuples."""
    s = load_settings(
        Sample,
        {"REQUIRED_NAME": "x", "WORKER_CONCURRENCY": "8", "CACHE_ENABLED": "false",
         "SCHEDULE": "1, 2.5", "METRICS_PORT": "9191"},
    )  # fmt: skip
    assert (s.worker_concurrency, s.cache_enabled, s.schedule, s.metrics_port) == (
        8, False, (1.0, 2.5), 9191,
    )  # fmt: skip


def test_load_settings_missing_required_names_the_variable() -> None:
    """A missing required variable is one line naming it."""
    with pytest.raises(ConfigError) as err:
        load_settings(Sample, {})
    assert str(err.value) == "configuration error: REQUIRED_NAME is required but not set"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("WORKER_CONCURRENCY", "many", "WORKER_CONCURRENCY='many' is invalid: expected int"),
        ("WORKER_CONCURRENCY", "0", "WORKER_CONCURRENCY='0' is invalid: expected int >= 1"),
        ("CACHE_ENABLED", "perhaps", "CACHE_ENABLED='perhaps' is invalid: expected bool"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT='xml' is invalid"),
        ("METRICS_PORT", "70000", "METRICS_PORT='70000' is invalid: expected int <= 65535"),
        ("SCHEDULE", "1,soon", "SCHEDULE='1,soon' is invalid"),
    ],
)
def test_load_settings_malformed_value_one_line_names_variable(
    name: str, value: str, expected: str
) -> None:
    """Each malformed value gives one line with the variable and what it expected."""
    with pytest.raises(ConfigError) as err:
        load_settings(Sample, {"REQUIRED_NAME": "x", name: value})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("configuration error: ")
    assert expected in message


def test_secret_never_shows_in_repr_or_errors() -> None:
    """A secret is masked in repr/str of the settings object."""
    s = load_settings(Sample, {"REQUIRED_NAME": "x", "OPENAI_API_KEY": "sk-live-abcdef123456"})
    assert s.openai_api_key is not None
    assert s.openai_api_key.reveal() == "sk-live-abcdef123456"
    assert "sk-live" not in repr(s)
    assert "sk-live" not in str(s.openai_api_key)


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after start."""
    s = load_settings(Sample, {"REQUIRED_NAME": "x"})
    with pytest.raises(AttributeError):
        s.worker_concurrency = 2  # type: ignore[misc]


def test_load_env_dotenv_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """.env supplies values; a real environment variable overrides it."""
    env_file = tmp_path / ".env"
    env_file.write_text("REQUIRED_NAME=from-file\nWORKER_CONCURRENCY=3\n")
    monkeypatch.setenv("WORKER_CONCURRENCY", "5")
    env = load_env(env_file)
    s = load_settings(Sample, env)
    assert (s.required_name, s.worker_concurrency) == ("from-file", 5)


def test_cli_bad_setting_stops_with_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`nb serve` with a malformed variable prints one line and exits 2, no traceback."""
    from neuralbridge.cli.main import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("METRICS_PORT", "ninety")
    assert main(["serve", "trainer"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["configuration error: METRICS_PORT='ninety' is invalid: expected int"]


def test_log_scrubber_masks_credentials_but_not_token_counts() -> None:
    """Credential-looking keys and values are masked in JSON logs; usage counts are not."""
    out = io.StringIO()
    configure_logging(level="info", fmt="json", stream=out)
    try:
        structlog.get_logger().info(
            "llm_request",
            api_key="k",
            access_token="t",
            prompt_tokens=12,
            url="postgresql://u:hunter2@db/x",
            note="key sk-abcdefghijklmnopqrstu",
        )
    finally:
        configure_logging(level="debug", fmt="console")
    line = json.loads(out.getvalue())
    assert line["api_key"] == line["access_token"] == "********"
    assert line["prompt_tokens"] == 12
    assert "hunter2" not in line["url"]
    assert "sk-abcdefghijklmnopqrstu" not in line["note"]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"NATS_USER": "svc"}, "NATS_USER is set but NATS_PASSWORD is not"),
        ({"NATS_PASSWORD": "pw-hunter2"}, "NATS_PASSWORD is set but NATS_USER is not"),
        (
            {"NATS_USER": "svc", "NATS_PASSWORD": "pw-hunter2", "NATS_TOKEN": "tok-hunter2"},
            "NATS_TOKEN cannot be combined with NATS_USER",
        ),
        ({"NATS_CREDS_FILE": "/nonexistent/user.creds"}, "NATS_CREDS_FILE='/nonexistent/user."),
    ],
)
def test_load_settings_bad_nats_credentials_one_line_names_variable(
    env: dict[str, str], expected: str
) -> None:
    """A bad combination of NATS credentials is one line naming it, never the secret."""
    with pytest.raises(ConfigError) as err:
        load_settings(Sample, {"REQUIRED_NAME": "x", **env})
    message = str(err.value)
    assert message.startswith("configuration error: ")
    assert expected in message
    assert "\n" not in message
    assert "hunter2" not in message


def test_nats_auth_user_password_connect_options_masked_in_repr() -> None:
    """User and password reach nats-py's options; the settings' repr hides the password."""
    s = load_settings(
        Sample, {"REQUIRED_NAME": "x", "NATS_USER": "svc", "NATS_PASSWORD": "pw-hunter2"}
    )
    auth = nats_auth(s)
    assert auth.connect_options() == {"user": "svc", "password": "pw-hunter2"}
    assert auth.describe() == "NATS_USER/NATS_PASSWORD"
    assert "hunter2" not in repr(s)
    assert "hunter2" not in repr(auth)


def test_nats_auth_token_and_creds_file_connect_options(tmp_path: Path) -> None:
    """A token and an existing creds file each become their nats-py option."""
    creds = tmp_path / "user.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\n")
    token = nats_auth(load_settings(Sample, {"REQUIRED_NAME": "x", "NATS_TOKEN": "t0k"}))
    by_file = nats_auth(
        load_settings(Sample, {"REQUIRED_NAME": "x", "NATS_CREDS_FILE": str(creds)})
    )
    assert token.connect_options() == {"token": "t0k"}
    assert by_file.connect_options() == {"user_credentials": str(creds)}


def test_nats_url_comma_separated_list_splits_into_servers() -> None:
    """NATS_URL lists several servers separated by commas (spaces allowed)."""
    servers = "nats://a:4222, nats://b:4222,tls://c:4222"
    s = load_settings(Sample, {"REQUIRED_NAME": "x", "NATS_URL": servers})
    assert s.nats_url is not None
    assert nats_servers(s.nats_url) == ["nats://a:4222", "nats://b:4222", "tls://c:4222"]


def test_nats_url_malformed_server_one_line_without_password() -> None:
    """A server in NATS_URL that is not a nats:// URL is named, its password masked."""
    bad = "nats://a:4222,http://u:hunter2@b:80/x"
    with pytest.raises(ConfigError) as err:
        load_settings(Sample, {"REQUIRED_NAME": "x", "NATS_URL": bad})
    assert "NATS_URL is invalid" in str(err.value)
    assert "hunter2" not in str(err.value)
