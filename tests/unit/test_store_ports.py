"""The narrow store ports: together exactly the Store, each method in one port, both
adapters implementing all of them."""

from __future__ import annotations

import inspect

from receiver.store import ports
from receiver.store.base import Store
from receiver.store.datakeys_port import DataKeyStore
from receiver.store.postgres import PostgresStore
from receiver.store.sqlite import SqliteStore


def _declared(protocol: type) -> set[str]:
    """Methods a Protocol declares itself (not inherited)."""
    return {name for name, value in vars(protocol).items() if inspect.iscoroutinefunction(value)}


def _all(protocol: type) -> set[str]:
    return {name for klass in protocol.__mro__ for name in _declared(klass)}


def _ports() -> list[type]:
    """The ports of receiver.store.ports, and the feature ports kept in their own modules
    (receiver/store/<area>_port.py)."""
    return [
        value
        for value in vars(ports).values()
        if isinstance(value, type) and value.__module__ == ports.__name__
    ] + [DataKeyStore]


def test_each_method_is_declared_by_exactly_one_port() -> None:
    seen: dict[str, str] = {}
    for port in _ports():
        for name in _declared(port):
            assert name not in seen, f"{name} in {seen.get(name)} and {port.__name__}"
            seen[name] = port.__name__
    assert set(seen) == _all(Store)


def test_store_declares_nothing_of_its_own() -> None:
    assert _declared(Store) == set()


def test_both_adapters_implement_every_port() -> None:
    for adapter in (SqliteStore, PostgresStore):
        for port in _ports():
            missing = {name for name in _all(port) if not hasattr(adapter, name)}
            assert not missing, f"{adapter.__name__} lacks {sorted(missing)} of {port.__name__}"


def test_consumer_ports_are_narrow() -> None:
    assert _all(ports.FollowUpStore) == {
        "claim_due_jobs",
        "complete_job",
        "retry_job",
        "kill_job",
        "fetch_event",
        "fetch_transaction_document",
        "fetch_account",
    }
    assert _all(ports.ClientReader) == {"fetch_client"}
    assert _all(ports.DeliveryQueue) == {"claim_due_deliveries", "finish_delivery"}
