"""Stedi accounts' identifiers (pure): the local names a webhook path can reach, and the forms
of Stedi's own account id."""

from __future__ import annotations

import re
import uuid

from receiver.models import Account

# The `{account}` of /webhooks/stedi/{account}: nothing a URL would escape, change or split,
# and one spelling only (lower case), so the name an operator types is the path Stedi calls.
_ACCOUNT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
# The id Stedi's webhook envelopes carry: a UUID, or the 12 digits of older accounts.
_STEDI_ACCOUNT_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_account_name(name: str) -> str:
    """`name` if it can name a local account, else ValueError saying what to type instead.

    1 to 63 characters: lower-case letters, digits, `-` and `_`, starting with a letter or a
    digit. Upper case is refused rather than folded, so the path Stedi is given is exactly
    the name that was typed.
    """
    if _ACCOUNT_NAME.fullmatch(name):
        return name
    if _ACCOUNT_NAME.fullmatch(name.lower()):
        raise ValueError(f"account names are lower case: use {name.lower()!r}")
    raise ValueError(
        "an account name is 1 to 63 lower-case letters, digits, '-' or '_', starting with a "
        "letter or digit (it is the {account} of /webhooks/stedi/{account})"
    )


def check_stedi_account_id(value: str) -> str:
    """`value` if it can be the account id Stedi's webhooks carry (1 to 64 letters, digits or
    hyphens), else ValueError."""
    if _STEDI_ACCOUNT_ID.fullmatch(value):
        return value
    raise ValueError("a Stedi account id is 1 to 64 letters, digits or hyphens")


def parse_stedi_account_uuid(value: str) -> str:
    """`value` as a canonical (lower-case, hyphenated) UUID, else ValueError."""
    if not _UUID.fullmatch(value):
        raise ValueError(
            "a Stedi account UUID has the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits)"
        )
    return str(uuid.UUID(value))


def names_stedi_account(event_account: object, account: Account) -> bool:
    """Whether an event's `account` value is one of `account`'s Stedi ids: its webhook id
    exactly, or its UUID compared as a UUID (in any case)."""
    if not isinstance(event_account, str):
        return False
    if event_account == account.stedi_account_id:
        return True
    if account.stedi_account_uuid is None or not _UUID.fullmatch(event_account):
        return False
    return str(uuid.UUID(event_account)) == account.stedi_account_uuid.lower()
