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
from neuralbridge.core.settings import CommonSettings, Secret, load_env, load_settings


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
