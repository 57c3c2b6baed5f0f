"""Inbound bodies: JSON content types, bounded JSON parsing, header cleaning."""

from __future__ import annotations

import pytest

from receiver.errors import BadRequestError, UnsupportedMediaTypeError
from receiver.intake.body import clean_headers, parse_json_object, require_json_content_type


class TestContentType:
    @pytest.mark.parametrize(
        "content_type",
        [
            None,
            "",
            "   ",
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            'application/json; charset="utf-8"',
            "application/json; charset=utf8",
            "application/cloudevents+json",
            "application/vnd.stedi.event+json; charset=utf-8",
            "application/json; version=2",
        ],
    )
    def test_accepts_json_or_nothing(self, content_type: str | None) -> None:
        require_json_content_type(content_type)

    @pytest.mark.parametrize(
        "content_type",
        [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "application/+json",
            "application/jsonx",
            "text/json",
            "json",
            "application/json; charset=latin-1",
            "application/json; charset=utf-16",
        ],
    )
    def test_refuses_anything_else(self, content_type: str) -> None:
        with pytest.raises(UnsupportedMediaTypeError) as info:
            require_json_content_type(content_type)
        assert "application/json" in info.value.detail
        assert info.value.status_code == 415


class TestParseJsonObject:
    def test_parses_an_object(self) -> None:
        assert parse_json_object(b'{"a": [1, {"b": null}]}', max_depth=3) == {"a": [1, {"b": None}]}

    @pytest.mark.parametrize(
        "body",
        [b"", b"{", b"not json", b'{"a": NaN}', b"\xff\xfe{}", b'{"a": "\xed\xa0\x80"}'],
    )
    def test_invalid_json_or_utf8_is_400(self, body: bytes) -> None:
        with pytest.raises(BadRequestError, match="body is not valid JSON"):
            parse_json_object(body, max_depth=32)

    @pytest.mark.parametrize("body", [b"[]", b'"x"', b"1", b"null", b"[{}]"])
    def test_non_object_is_400(self, body: bytes) -> None:
        with pytest.raises(BadRequestError, match="body must be a JSON object"):
            parse_json_object(body, max_depth=32)

    def test_depth_at_the_limit_is_accepted(self) -> None:
        body = b'{"a":' * 5 + b"1" + b"}" * 5  # five nested objects
        assert parse_json_object(body, max_depth=5)
        assert parse_json_object(b'{"a": [[1]]}', max_depth=3)

    def test_depth_over_the_limit_is_400(self) -> None:
        with pytest.raises(BadRequestError, match="nested more than 5 levels"):
            parse_json_object(b'{"a":' * 6 + b"1" + b"}" * 6, max_depth=5)
        with pytest.raises(BadRequestError, match="nested more than 3 levels"):
            parse_json_object(b'{"ok": 1, "a": [[[1]]]}', max_depth=3)

    def test_a_wide_shallow_body_is_fine(self) -> None:
        body = b'{"a": [' + b",".join([b'{"b": 1}'] * 10_000) + b"]}"
        assert len(parse_json_object(body, max_depth=3)["a"]) == 10_000  # type: ignore[arg-type]

    @pytest.mark.parametrize("depth", [900, 1100, 100_000])
    def test_very_deep_bodies_are_400_not_a_crash(self, depth: int) -> None:
        body = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
        with pytest.raises(BadRequestError, match="body is"):
            parse_json_object(body, max_depth=64)


class TestCleanHeaders:
    def test_lower_cases_drops_credentials_and_joins_repeats(self) -> None:
        headers = [
            ("Content-Type", "application/json"),
            ("Authorization", "Bearer secret"),
            ("Proxy-Authorization", "Basic x"),
            ("Cookie", "a=b"),
            ("X-Api-Key", "k"),
            ("X-Stedi-Token", "custom-secret"),
            ("X-Forwarded-For", "10.0.0.1"),
            ("x-forwarded-for", "10.0.0.2"),
            ("Attempt-Number", "1"),
        ]
        assert clean_headers(headers, drop={"x-STEDI-token"}) == {
            "content-type": "application/json",
            "x-forwarded-for": "10.0.0.1, 10.0.0.2",
            "attempt-number": "1",
        }

    def test_no_extra_names(self) -> None:
        assert clean_headers([("Authorization", "x"), ("A", "1")], drop=()) == {"a": "1"}
