"""The KEK file: its format and derived key id, permission checks, creation that never
overwrites, and rotation that keeps the older keys."""

from __future__ import annotations

import base64
import hashlib
import stat
import threading
from pathlib import Path

import pytest

from receiver.crypto.kek import (
    KekSet,
    format_kek_line,
    format_kek_text,
    kek_from_bytes,
    new_kek,
    parse_kek_text,
)
from receiver.crypto.kekfile import (
    create_kek,
    load_kek,
    load_or_create_kek,
    rotate_kek,
    unsafe_mode,
)
from receiver.errors import ConfigError

KEY = bytes(range(32))
KEY_B64 = base64.b64encode(KEY).decode()


def _write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


class TestKekId:
    def test_is_a_labelled_truncated_sha256_never_the_key(self) -> None:
        kek = kek_from_bytes(KEY)
        label = b"receiver key-encryption key id v1\x00"
        assert kek.kid == hashlib.sha256(label + KEY).hexdigest()[:16]
        assert kek.kid != hashlib.sha256(KEY).hexdigest()[:16]
        assert KEY_B64 not in repr(kek)
        assert KEY.hex() not in repr(kek)

    def test_refuses_a_key_of_the_wrong_length(self) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            kek_from_bytes(KEY[:16])


class TestParseKekText:
    def test_round_trips_current_first_skipping_comments_and_blank_lines(self) -> None:
        first, second = new_kek(), new_kek()
        text = format_kek_text(KekSet((first, second))) + "\n# retired later\n\n"
        keks = parse_kek_text(text, source="k")
        assert keks.current == first
        assert keks.ids == (first.kid, second.kid)
        assert keks.find(second.kid) == second
        assert keks.find("0" * 16) is None

    def test_line_format(self) -> None:
        kek = kek_from_bytes(KEY)
        assert format_kek_line(kek) == f"receiver-kek-v1:{kek.kid}:{KEY_B64}"

    def test_accepts_crlf_line_ends(self) -> None:
        line = format_kek_line(kek_from_bytes(KEY))
        assert parse_kek_text(line + "\r\n", source="k").current.key == KEY

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            (f"receiver-kek-v2:{{kid}}:{KEY_B64}", "not a receiver-kek-v1"),
            (KEY_B64, "not a receiver-kek-v1"),
            ("receiver-kek-v1:{kid}:", "not a receiver-kek-v1"),
            ("receiver-kek-v1:{kid}:not*base64!", "not valid base64"),
            ("receiver-kek-v1:{kid}:" + base64.b64encode(KEY[:31]).decode(), "32 bytes, not 31"),
            ("receiver-kek-v1:{kid}:" + base64.b64encode(KEY + b"x").decode(), "not 33"),
            (f"receiver-kek-v1:0123456789abcdef:{KEY_B64}", "does not match its key"),
            (f"receiver-kek-v1:{KEY_B64}:{KEY_B64}", "does not match its key"),
        ],
    )
    def test_bad_lines_name_the_file_and_line_never_the_key(self, line: str, message: str) -> None:
        text = "# header\n" + line.replace("{kid}", kek_from_bytes(KEY).kid) + "\n"
        with pytest.raises(ConfigError, match=message) as caught:
            parse_kek_text(text, source="/run/secrets/kek")
        assert "/run/secrets/kek line 2" in str(caught.value)
        assert KEY_B64 not in str(caught.value)
        assert KEY_B64[:20] not in str(caught.value)

    def test_refuses_a_key_listed_twice(self) -> None:
        line = format_kek_line(kek_from_bytes(KEY))
        with pytest.raises(ConfigError, match="line 2: key .* appears twice"):
            parse_kek_text(f"{line}\n{line}\n", source="k")

    @pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
    def test_refuses_a_file_without_keys(self, text: str) -> None:
        with pytest.raises(ConfigError, match="holds no receiver-kek-v1 key line"):
            parse_kek_text(text, source="k")


class TestLoadKek:
    def test_loads_a_private_file(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "kek", format_kek_line(kek_from_bytes(KEY)) + "\n")
        assert load_kek(path).current.key == KEY

    @pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o700 | 0o010])
    def test_refuses_a_file_open_to_group_or_others(self, tmp_path: Path, mode: int) -> None:
        path = _write(tmp_path / "kek", format_kek_line(kek_from_bytes(KEY)) + "\n", mode)
        with pytest.raises(ConfigError, match=f"chmod 600 {path}"):
            load_kek(path)

    def test_missing_file_is_a_config_error_naming_it(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match=f"cannot read encryption key file {tmp_path}/no"):
            load_kek(tmp_path / "no")

    def test_refuses_binary_and_oversized_files(self, tmp_path: Path) -> None:
        binary = tmp_path / "bin"
        binary.write_bytes(b"\xff" * 32)
        binary.chmod(0o600)
        with pytest.raises(ConfigError, match="not UTF-8 text"):
            load_kek(binary)
        big = _write(tmp_path / "big", "#" * (64 * 1024 + 1))
        with pytest.raises(ConfigError, match="over 65536 bytes"):
            load_kek(big)


class TestCreateKek:
    def test_writes_0600_with_a_header_and_leaves_no_temp_file(self, tmp_path: Path) -> None:
        path = tmp_path / "state" / "kek"
        keks = create_kek(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text().startswith("# receiver key-encryption keys")
        assert load_kek(path) == keks
        assert [p.name for p in path.parent.iterdir()] == ["kek"]

    def test_never_overwrites(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "kek", "precious\n")
        with pytest.raises(ConfigError, match="already exists; it is never overwritten"):
            create_kek(path)
        assert path.read_text() == "precious\n"
        assert [p.name for p in tmp_path.iterdir()] == ["kek"]


class TestLoadOrCreateKek:
    def test_creates_once_then_loads_the_same_key(self, tmp_path: Path) -> None:
        path = tmp_path / "kek"
        first = load_or_create_kek(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_or_create_kek(path) == first

    def test_concurrent_first_starts_agree_on_one_key(self, tmp_path: Path) -> None:
        path = tmp_path / "kek"
        results: list[KekSet] = []
        barrier = threading.Barrier(8)

        def start() -> None:
            barrier.wait()
            results.append(load_or_create_kek(path))

        threads = [threading.Thread(target=start) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 8
        assert {keks.current.kid for keks in results} == {load_kek(path).current.kid}

    def test_still_refuses_an_unsafe_existing_file(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "kek", format_kek_line(kek_from_bytes(KEY)) + "\n", 0o644)
        with pytest.raises(ConfigError, match="accessible by group or others"):
            load_or_create_kek(path)


class TestRotateKek:
    def test_puts_a_new_current_key_first_and_keeps_every_line(self, tmp_path: Path) -> None:
        path = tmp_path / "kek"
        old = create_kek(path).current
        path.write_text(path.read_text() + "# note kept\n")
        rotated = rotate_kek(path)
        assert rotated.ids[1:] == (old.kid,)
        assert rotated.current.kid != old.kid
        assert load_kek(path) == rotated
        text = path.read_text()
        assert text.startswith("# receiver key-encryption keys")
        assert text.endswith("# note kept\n")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in tmp_path.iterdir()] == ["kek"]

    def test_concurrent_rotations_each_keep_their_key(self, tmp_path: Path) -> None:
        path = tmp_path / "kek"
        create_kek(path)
        added: list[str] = []
        barrier = threading.Barrier(4)

        def rotate() -> None:
            barrier.wait()
            added.append(rotate_kek(path).current.kid)

        threads = [threading.Thread(target=rotate) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert set(added) <= set(load_kek(path).ids)
        assert len(load_kek(path).ids) == 5

    def test_refuses_to_extend_an_unsafe_file(self, tmp_path: Path) -> None:
        path = _write(tmp_path / "kek", format_kek_line(kek_from_bytes(KEY)) + "\n", 0o640)
        with pytest.raises(ConfigError, match="chmod 600"):
            rotate_kek(path)
        assert len(path.read_text().splitlines()) == 1


class TestUnsafeMode:
    @pytest.mark.parametrize("mode", [0o600, 0o400, 0o200])
    def test_our_file_may_be_ours_alone(self, mode: int) -> None:
        assert unsafe_mode(stat.S_IFREG | mode, owner=1000, euid=1000) is None

    @pytest.mark.parametrize("mode", [0o640, 0o604, 0o610, 0o601])
    def test_our_file_open_to_group_or_others_is_refused(self, mode: int) -> None:
        assert unsafe_mode(mode, owner=1000, euid=1000) == (
            f"is accessible by group or others (mode {mode:o}); fix it with: chmod 600"
        )

    @pytest.mark.parametrize("mode", [0o440, 0o640, 0o400, 0o600])
    def test_a_root_file_may_be_group_readable_as_kubernetes_mounts_it(self, mode: int) -> None:
        assert unsafe_mode(mode, owner=0, euid=1000) is None

    @pytest.mark.parametrize("mode", [0o660, 0o644, 0o650, 0o444])
    def test_a_root_file_open_further_is_refused(self, mode: int) -> None:
        assert "fix it with: chmod 640" in (unsafe_mode(mode, owner=0, euid=1000) or "")

    def test_another_users_file_is_refused(self) -> None:
        assert unsafe_mode(0o600, owner=1001, euid=1000) == (
            "belongs to uid 1001, neither this process's user nor root; fix it with: chown 1000"
        )
