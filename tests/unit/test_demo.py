"""The demo's packaged fixtures are the repository's, byte for byte."""

from __future__ import annotations

from receiver.demo import packaged_fixtures
from tests.conftest import FIXTURES


def test_packaged_fixtures_are_copies_of_the_repository_fixtures() -> None:
    packaged = packaged_fixtures()
    names = [
        f"{folder.name}/{entry.name}"
        for folder in packaged.iterdir()
        if folder.is_dir()
        for entry in folder.iterdir()
    ]
    assert len(names) >= 8
    for name in names:
        assert (packaged / name).read_bytes() == (FIXTURES / name).read_bytes(), name
