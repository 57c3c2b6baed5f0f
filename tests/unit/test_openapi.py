"""The OpenAPI document: every scope described, operation ids unique, every operation typed."""

from __future__ import annotations

from receiver.auth.clients import SCOPES
from receiver.web.openapi import OPERATIONS, SCOPE_DESCRIPTIONS, build_document


def test_the_oauth2_scheme_lists_every_scope() -> None:
    doc = build_document("https://receiver.example")
    flow = doc["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "https://receiver.example/oauth/token"
    assert set(flow["scopes"]) == set(SCOPES) == set(SCOPE_DESCRIPTIONS)


def test_operation_ids_are_unique_and_every_scope_used_is_known() -> None:
    doc = build_document("https://receiver.example")
    ids = [op["operationId"] for path in doc["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids)) == len(OPERATIONS)
    assert {op.scope for op in OPERATIONS if op.scope} <= SCOPES


def test_every_reference_resolves_and_every_parameter_is_typed() -> None:
    doc = build_document("https://receiver.example")
    schemas = doc["components"]["schemas"]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            target = node.get("$ref")
            if isinstance(target, str):
                assert target.removeprefix("#/components/schemas/") in schemas, target
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    for path in doc["paths"].values():
        for op in path.values():
            for param in op.get("parameters", []):
                assert "type" in param["schema"], (param, op["operationId"])
