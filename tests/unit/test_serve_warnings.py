"""What `serve` warns of at start: settings that work but are likely not what was meant."""

from __future__ import annotations

from receiver.cli.serve import startup_warnings
from receiver.settings import load_settings


def test_the_defaults_warn_of_nothing() -> None:
    assert startup_warnings(load_settings({}), host="127.0.0.1", port=8000) == []


def test_a_loopback_public_url_on_another_port_is_named() -> None:
    (warning,) = startup_warnings(load_settings({}), host="127.0.0.1", port=9000)
    assert "RECEIVER_PUBLIC_URL (http://127.0.0.1:8000) names port 8000" in warning
    assert "listens on 9000" in warning


def test_listening_beyond_loopback_with_a_loopback_public_url_is_named() -> None:
    (warning,) = startup_warnings(load_settings({}), host="0.0.0.0", port=8000)  # noqa: S104
    assert "serve listens on 0.0.0.0 but RECEIVER_PUBLIC_URL is http://127.0.0.1:8000" in warning


def test_a_public_hostname_is_taken_as_given() -> None:
    """Behind a proxy the public URL names the proxy: nothing to compare it with."""
    settings = load_settings({"RECEIVER_PUBLIC_URL": "https://receiver.example.com"})
    assert startup_warnings(settings, host="0.0.0.0", port=8000) == []  # noqa: S104


def test_insecure_destinations_are_named() -> None:
    settings = load_settings({"RECEIVER_ALLOW_INSECURE_DESTINATIONS": "true"})
    (warning,) = startup_warnings(settings, host="127.0.0.1", port=8000)
    assert warning.startswith("RECEIVER_ALLOW_INSECURE_DESTINATIONS is on")
