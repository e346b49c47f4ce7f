"""API keys (by sha256 digest) and rate limits (token buckets, 429 with Retry-After)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from neuralbridge.core.errors import ConfigError
from neuralbridge.core.settings import Secret, load_settings
from neuralbridge.gateway.errors import RateLimitedError
from neuralbridge.gateway.ratelimit import RateLimiter
from neuralbridge.gateway.settings import GatewaySettings, load_keys
from tests.gateway.conftest import TEST_PII_HASH_KEY

KEY = "nb-test-key-0123456789"
ADMIN_KEY = "nb-admin-key-0123456789"
ADMIN_DIGEST = hashlib.sha256(ADMIN_KEY.encode()).hexdigest()
PII_KEY = Secret(TEST_PII_HASH_KEY)
DIGEST = hashlib.sha256(KEY.encode()).hexdigest()
QUERY = {"query": "Who founded Acme Rockets?", "session_id": "s1"}


async def test_keys_configured_request_without_key_is_401(serve: Callable[..., Any]) -> None:
    """With GATEWAY_API_KEY_HASHES set, no key and a wrong key are both 401."""
    async with (
        serve(pipeline=False, GATEWAY_API_KEY_HASHES=DIGEST) as url,
        httpx.AsyncClient() as http,
    ):
        missing = await http.post(f"{url}/api/proxy/query", json=QUERY)
        wrong = await http.get(f"{url}/v1/models", headers={"Authorization": "Bearer nope"})
        right = await http.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {KEY}"})
        probe = await http.get(f"{url}/healthz")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.json()["error"]["code"] == "missing_api_key"
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert right.status_code == 200
    assert probe.status_code == 200


async def test_keys_file_key_works_with_sdk(serve: Callable[..., Any], tmp_path: Path) -> None:
    """A key whose digest is in GATEWAY_API_KEYS_FILE answers; the SDK's wrong key is 401."""
    keys = tmp_path / "keys"
    keys.write_text(f"# gateway keys\n{DIGEST} ci-runner\n")
    async with serve(GATEWAY_API_KEYS_FILE=str(keys)) as url:
        good = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0)
        bad = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="sk-wrong", max_retries=0)
        completion = await good.chat.completions.create(
            model="neuralbridge", messages=[{"role": "user", "content": QUERY["query"]}]
        )
        with pytest.raises(openai.AuthenticationError):
            await bad.models.list()
        await good.close()
        await bad.close()
    assert completion.choices[0].message.content


def test_keys_file_with_a_non_digest_line_is_config_error(tmp_path: Path) -> None:
    """A keys file holding a clear-text key stops the gateway with a line naming it."""
    keys = tmp_path / "keys"
    keys.write_text(f"{KEY}\n")
    with pytest.raises(ConfigError, match="GATEWAY_API_KEYS_FILE line 1"):
        load_keys(GatewaySettings(gateway_api_keys_file=str(keys), pii_hash_key=PII_KEY))


async def test_rate_limit_exceeded_is_429_with_retry_after(serve: Callable[..., Any]) -> None:
    """Past GATEWAY_RATE_LIMIT_PER_MINUTE the caller gets 429 and a Retry-After."""
    async with (
        serve(pipeline=False, GATEWAY_RATE_LIMIT_PER_MINUTE="2") as url,
        httpx.AsyncClient() as http,
    ):
        statuses = [(await http.get(f"{url}/v1/models")).status_code for _ in range(2)]
        limited = await http.get(f"{url}/v1/models")
    assert statuses == [200, 200]
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) == 30
    assert limited.json()["error"]["type"] == "rate_limit_error"


def test_session_bucket_limits_one_session_not_others() -> None:
    """A session's bucket empties on its own; another session still has tokens."""
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    limiter.take("session:a", "session")
    limiter.take("session:a", "session")
    with pytest.raises(RateLimitedError) as caught:
        limiter.take("session:a", "session")
    limiter.take("session:b", "session")
    assert caught.value.retry_after == 30
    assert "per session" in caught.value.message


def test_bucket_refills_over_time() -> None:
    """Tokens come back at per_minute / 60 per second."""
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])
    for _ in range(60):
        limiter.take("key:x", "API key")
    with pytest.raises(RateLimitedError):
        limiter.take("key:x", "API key")
    now[0] = 1.0
    limiter.take("key:x", "API key")


def test_zero_rate_disables_limiting() -> None:
    """GATEWAY_RATE_LIMIT_PER_MINUTE=0 never limits."""
    limiter = RateLimiter(0)
    for _ in range(1000):
        limiter.take("key:x", "API key")


def test_keys_file_label_is_the_key_id(tmp_path: Path) -> None:
    """A label after the digest names the key; without one, the digest's first 12 digits."""
    keys = tmp_path / "keys"
    keys.write_text(f"{DIGEST} ci-runner\n{ADMIN_DIGEST}\n")
    ring = load_keys(GatewaySettings(gateway_api_keys_file=str(keys), pii_hash_key=PII_KEY))
    assert sorted(ring.users.values()) == sorted(["ci-runner", ADMIN_DIGEST[:12]])
    assert ring.admins == {}


def test_no_keys_without_auth_off_is_one_line_config_error() -> None:
    """Without keys and without GATEWAY_AUTH=off the settings refuse to load, naming both."""
    with pytest.raises(ConfigError) as caught:
        load_settings(GatewaySettings, {"PII_HASH_KEY": TEST_PII_HASH_KEY})
    message = str(caught.value)
    assert "\n" not in message
    assert "GATEWAY_API_KEY_HASHES" in message
    assert "GATEWAY_AUTH=off" in message


def test_keys_and_auth_off_together_is_config_error() -> None:
    """GATEWAY_AUTH=off with keys configured is a contradiction, not a silent choice."""
    env = {"PII_HASH_KEY": TEST_PII_HASH_KEY, "GATEWAY_AUTH": "off"}
    with pytest.raises(ConfigError, match="GATEWAY_AUTH=off contradicts"):
        load_settings(GatewaySettings, {**env, "GATEWAY_API_KEY_HASHES": DIGEST})


def test_missing_or_short_pii_hash_key_is_config_error() -> None:
    """PII_HASH_KEY is required and must be long enough; its value is never echoed."""
    with pytest.raises(ConfigError, match="PII_HASH_KEY is required"):
        load_settings(GatewaySettings, {"GATEWAY_AUTH": "off"})
    with pytest.raises(ConfigError, match="PII_HASH_KEY must hold") as caught:
        load_settings(GatewaySettings, {"GATEWAY_AUTH": "off", "PII_HASH_KEY": "short-secret"})
    assert "short-secret" not in str(caught.value)


async def test_user_key_on_admin_route_is_403_admin_key_passes(
    serve: Callable[..., Any],
) -> None:
    """A user key may ask questions but not manage datasets or jobs; an admin key may do both."""
    env = {"GATEWAY_API_KEY_HASHES": DIGEST, "GATEWAY_ADMIN_KEY_HASHES": ADMIN_DIGEST}
    user = {"Authorization": f"Bearer {KEY}"}
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    transform = {"dataset": "handbook", "collection": "knowledge"}
    async with serve(pipeline=False, **env) as url, httpx.AsyncClient() as http:
        models = await http.get(f"{url}/v1/models", headers=user)
        refused = [
            await http.post(f"{url}/api/transforms", json=transform, headers=user),
            await http.get(f"{url}/api/datasets", headers=user),
            await http.get(f"{url}/api/jobs/stats", headers=user),
            await http.get(f"{url}/api/learning/report", headers=user),
        ]
        admin_models = await http.get(f"{url}/v1/models", headers=admin)
        admin_jobs = await http.get(f"{url}/api/jobs/stats", headers=admin)
    assert models.status_code == 200
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert refused[0].json()["error"]["code"] == "admin_key_required"
    assert refused[0].json()["error"]["type"] == "permission_error"
    assert admin_models.status_code == 200
    assert admin_jobs.status_code not in (401, 403)  # 503: no trainer runs in this test


async def test_openapi_document_follows_the_keys(serve: Callable[..., Any]) -> None:
    """With keys on, ``/schema/openapi.json`` needs one like every other route."""
    async with (
        serve(pipeline=False, GATEWAY_API_KEY_HASHES=DIGEST) as url,
        httpx.AsyncClient() as http,
    ):
        anonymous = await http.get(f"{url}/schema/openapi.json")
        keyed = await http.get(
            f"{url}/schema/openapi.json", headers={"Authorization": f"Bearer {KEY}"}
        )
    assert anonymous.status_code == 401
    assert keyed.status_code == 200
    assert "/api/proxy/query" in keyed.json()["paths"]
