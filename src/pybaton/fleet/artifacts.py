"""The artifact store: every finished sync's ``.c1z``, written so that a reader never sees half a file.

A directory (local, or a mount shared by the workers' hosts) gets the file
under a temporary name in the same directory, flushed to disk, then renamed
into place (atomic on POSIX). An S3-compatible bucket gets a single PUT,
which S3 makes visible whole or not at all. Either way an artifact is named by
its sync id, so publishing the same sync twice (a redelivered task) is a no-op.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

from pybaton.extras import optional_import
from pybaton.fleet.settings import ArtifactStore, S3Store


class Store(Protocol):
    def publish(self, system: str, sync_id: str, source: Path) -> str:
        """Put ``source`` in the store as ``system``'s ``sync_id``; return where it is."""


class DirectoryStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, system: str, sync_id: str) -> Path:
        return self.root / system / f"{sync_id}.c1z"

    def publish(self, system: str, sync_id: str, source: Path) -> str:
        target = self.path(system, sync_id)
        if target.exists():
            return str(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{sync_id}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return str(target)


class BucketStore:
    def __init__(self, settings: S3Store) -> None:
        with optional_import("an S3 artifact store"):
            import boto3
        self.settings = settings
        self.client: Any = boto3.client("s3", endpoint_url=settings.endpoint_url, region_name=settings.region)

    def key(self, system: str, sync_id: str) -> str:
        return f"{self.settings.prefix.strip('/')}/{system}/{sync_id}.c1z".lstrip("/")

    def publish(self, system: str, sync_id: str, source: Path) -> str:
        key = self.key(system, sync_id)
        self.client.upload_file(str(source), self.settings.bucket, key)
        return f"s3://{self.settings.bucket}/{key}"


def open_store(settings: ArtifactStore, data_dir: Path) -> Store:
    if settings.s3 is not None:
        return BucketStore(settings.s3)
    root = Path(settings.dir).expanduser()
    return DirectoryStore(root if root.is_absolute() else data_dir / root)
