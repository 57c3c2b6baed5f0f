"""random_bytes: the operating system's random bytes for nonces and ids, read 4 KiB at a time."""

from __future__ import annotations

import os
import threading

CHUNK_BYTES = 4096

_lock = threading.Lock()
_buffer = b""
_offset = 0


def random_bytes(n: int) -> bytes:
    """`n` bytes of `os.urandom` output, each handed out once, for values that are public once
    made: AES-GCM nonces (stored beside the ciphertext), ids, request ids. Never for keys or
    secrets, which take `os.urandom` directly, so that no unused key material waits in memory.

    `os.urandom` is a getrandom system call that releases the GIL: five times per intake (two
    ids, two nonces, a request id), each a chance for the SQLite writer thread to take the GIL
    and keep the event loop waiting. Here one call serves a chunk. A forked child starts with
    an empty buffer, so a parent and its child never hand out the same bytes."""
    global _buffer, _offset
    if n > CHUNK_BYTES:
        return os.urandom(n)
    with _lock:
        end = _offset + n
        if end > len(_buffer):
            _buffer, _offset, end = os.urandom(CHUNK_BYTES), 0, n
        taken = _buffer[_offset:end]
        _offset = end
    return taken


def _after_fork_in_child() -> None:
    global _buffer, _offset, _lock
    _buffer, _offset, _lock = b"", 0, threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
