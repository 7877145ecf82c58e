"""Bulk grant inserts on a second core: a helper process with its own connection to the working copy.

Writing a million grants is two halves of similar cost: building the grant messages (Python, in
the caller) and inserting the rows (SQLite). A thread cannot overlap them: the insert needs the
interpreter lock for every row it binds, so it crawls while the caller builds. A process can.
:class:`SyncWriter` hands each bulk batch of serialized grants here and goes on building the next
batch while the helper turns the bytes into rows and inserts them, one transaction per batch, in
order. One batch is in flight at a time (bounded memory); everything else the writer does waits
for it first (:meth:`GrantLoader.finish`), so the rows, their ids and their order are exactly what
inserting in the caller would have produced.

Only throw-away working copies use it (their rollback journal lets two connections take turns);
a sync's durable ``.wip`` keeps every batch in the caller's own transactions, which it bundles
with checkpoints. ``PYBATON_GRANT_LOADER=0`` turns it off.

Protocol on the helper's stdin: frames of an 8-byte little-endian length and a ``marshal``-ed
``(sync_id, discovered_at, [grant bytes, ...])``; it answers each with one line, ``ok`` or
``error <message>``, and exits at end of input.
"""

from __future__ import annotations

import marshal
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path
from typing import IO

from pybaton.c1z.file import connect
from pybaton.errors import C1ZError

_FRAME = struct.Struct("<Q")
_ENV = "PYBATON_GRANT_LOADER"


def available() -> bool:
    """A helper can be started: not turned off, and this is a plain interpreter (not a frozen build)."""
    return os.environ.get(_ENV, "1") != "0" and not getattr(sys, "frozen", False) and bool(sys.executable)


class GrantLoader:
    """The caller's end: sends batches, waits for the helper's answers."""

    def __init__(self, db_path: Path, path: Path) -> None:
        self._path = path
        # The helper imports this very package, wherever it was found.
        source = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (source, os.environ.get("PYTHONPATH"))))}
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "pybaton.c1z.loader", str(db_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self._in_flight = False

    def submit(self, sync_id: str, now: str, grants: list[bytes]) -> None:
        """Queue one batch (after the previous one has landed); raises the helper's error, if any."""
        self._await()
        payload = marshal.dumps((sync_id, now, grants))
        stdin = self._pipe(self._proc.stdin)
        try:
            stdin.write(_FRAME.pack(len(payload)))
            stdin.write(payload)
            stdin.flush()
        except BrokenPipeError:
            self._failed(self._last_words())
        self._in_flight = True

    def drain(self) -> None:
        """Wait until every batch sent is committed (the helper stays, idle and holding no lock)."""
        self._await()

    def finish(self) -> None:
        """Wait until every batch sent is committed, then stop the helper."""
        self._await()
        self._pipe(self._proc.stdin).close()
        if self._proc.wait() != 0:
            self._failed("the grant loader failed")

    def abort(self) -> None:
        """Stop the helper now (the working copy is being discarded, or the caller failed)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()

    def _await(self) -> None:
        if not self._in_flight:
            return
        self._in_flight = False
        answer = self._pipe(self._proc.stdout).readline().decode(errors="replace").strip()
        if answer != "ok":
            self._failed(answer.removeprefix("error ") or self._last_words())

    def _last_words(self) -> str:
        """Why the helper stopped without answering: the last line it wrote to stderr."""
        self._proc.kill()
        self._proc.wait()
        lines = self._pipe(self._proc.stderr).read().decode(errors="replace").strip().splitlines()
        return f"the grant loader stopped ({lines[-1].strip()})" if lines else "the grant loader stopped"

    def _failed(self, message: str) -> None:
        self.abort()
        raise C1ZError(f"{self._path}: writing grants failed: {message}")

    @staticmethod
    def _pipe(pipe: IO[bytes] | None) -> IO[bytes]:
        assert pipe is not None  # opened with PIPE
        return pipe


def _read_exactly(src: IO[bytes], size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = src.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def serve(db_path: str, src: IO[bytes], out: IO[bytes]) -> int:
    """The helper's loop: insert each batch in one transaction, answer, until end of input."""
    from pybaton.c1z import writer  # the helper's own import; the writer imports this module

    conn = connect(db_path, writable=True, durable=False, timeout=60)  # the caller's own throw-away copy
    conn.execute("pragma cache_size = -16384")  # appending needs little; memory is the caller's budget too
    columns = writer.GrantColumns()
    while (head := _read_exactly(src, _FRAME.size)) is not None:
        payload = _read_exactly(src, _FRAME.unpack(head)[0])
        if payload is None:
            break
        sync_id, now, grants = marshal.loads(payload)
        try:
            conn.execute("begin")
            writer.insert_serialized(conn, grants, sync_id, now, columns)
            conn.execute("commit")
        except Exception as exc:  # reported to the caller, which raises it
            out.write(f"error {' '.join(str(exc).split())}\n".encode())
            out.flush()
            return 1
        out.write(b"ok\n")
        out.flush()
    conn.close()
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle; it stops us
    sys.exit(serve(sys.argv[1], sys.stdin.buffer, sys.stdout.buffer))
