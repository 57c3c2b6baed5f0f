"""Settings from the environment: the caps that must be at least 1, the outbound transport."""

from __future__ import annotations

import pytest

from receiver.errors import ConfigError
from receiver.settings import load_settings


def test_the_stedi_response_cap_is_read_and_must_be_positive() -> None:
    assert load_settings({}).stedi_max_response_bytes == 32 * 1024 * 1024
    env = {"RECEIVER_STEDI_MAX_RESPONSE_BYTES": "1048576"}
    assert load_settings(env).stedi_max_response_bytes == 1048576
    with pytest.raises(ConfigError, match="RECEIVER_STEDI_MAX_RESPONSE_BYTES must be at least 1"):
        load_settings({"RECEIVER_STEDI_MAX_RESPONSE_BYTES": "0"})


def test_the_replay_cap_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="RECEIVER_REPLAY_MAX_DELIVERIES must be at least 1"):
        load_settings({"RECEIVER_REPLAY_MAX_DELIVERIES": "0"})


def test_the_auth_failure_window_must_be_positive() -> None:
    """A zero window used to pass the settings check and then stop `serve` at start-up."""
    with pytest.raises(
        ConfigError, match="RECEIVER_AUTH_FAILURE_WINDOW_SECONDS must be at least 1"
    ):
        load_settings({"RECEIVER_AUTH_FAILURE_WINDOW_SECONDS": "0"})
    assert load_settings({"RECEIVER_AUTH_FAILURE_LIMIT": "0"}).auth_failure_limit == 0


def test_an_unknown_variable_is_refused_with_the_closest_setting() -> None:
    """A typo used to be ignored in silence, leaving the default in force."""
    with pytest.raises(
        ConfigError,
        match="RECEIVER_DATABASE_ULR is not a setting; did you mean RECEIVER_DATABASE_URL",
    ):
        load_settings({"RECEIVER_DATABASE_ULR": "sqlite:///x.db"})
    with pytest.raises(ConfigError, match="RECEIVER_QQQQQQQQQQQQQQQQ is not a setting \\("):
        load_settings({"RECEIVER_QQQQQQQQQQQQQQQQ": "1"})


def test_the_test_and_bench_variables_are_not_settings_but_allowed() -> None:
    env = {
        "RECEIVER_REQUIRE_POSTGRES": "1",
        "RECEIVER_TEST_POSTGRES_DSN": "postgresql://x",
        "RECEIVER_BENCH_SECRET": "s",
        "OTHER_VAR": "x",
    }
    assert load_settings(env).database_url == load_settings({}).database_url


def test_the_outbound_transport_is_aiohttp_unless_httpx_is_asked_for() -> None:
    assert load_settings({}).outbound_http == "aiohttp"
    assert load_settings({"RECEIVER_OUTBOUND_HTTP": "HTTPX"}).outbound_http == "httpx"
    with pytest.raises(ConfigError, match="RECEIVER_OUTBOUND_HTTP"):
        load_settings({"RECEIVER_OUTBOUND_HTTP": "requests"})
