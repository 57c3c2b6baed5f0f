"""random_bytes: each byte handed out once, in a forked child too."""

from __future__ import annotations

import os
import signal
import time

from receiver import entropy
from receiver.entropy import CHUNK_BYTES, random_bytes


def test_it_hands_out_the_lengths_asked_for_and_never_the_same_bytes_twice() -> None:
    taken = [random_bytes(12) for _ in range(2 * CHUNK_BYTES // 12)]  # across a refill
    assert {len(t) for t in taken} == {12}
    assert len(set(taken)) == len(taken)
    assert len(random_bytes(CHUNK_BYTES + 1)) == CHUNK_BYTES + 1  # straight from os.urandom
    assert random_bytes(0) == b""


def test_a_forked_child_never_hands_out_what_its_parent_will() -> None:
    entropy._after_fork_in_child()  # start from an empty buffer, whatever ran before
    random_bytes(1)  # now a full chunk waits, its next 4,095 bytes not yet taken
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next nonce, to the parent
        try:
            os.write(write, random_bytes(12))
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 12)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 12
    assert child != random_bytes(12)


def test_a_forked_child_gets_a_fresh_lock() -> None:
    with entropy._lock:  # held by the parent at the fork, as another thread might hold it
        pid = os.fork()
        if pid == 0:
            try:
                random_bytes(12)  # would wait for ever on the inherited, held lock
            finally:
                os._exit(0)
    for _ in range(500):  # 5 s
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise AssertionError("the child waited on the lock it inherited")
