"""Object storage on the local file system (the default; a bucket adapter replaces it)."""

from __future__ import annotations

import asyncio
from pathlib import Path


class LocalFileStore:
    """Keeps each object as a file under a root folder."""

    def __init__(self, root: str | Path) -> None:
        self._root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root):
            raise ValueError(f"object key escapes the store: {key!r}")
        return path

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Write the file (folders made as needed); the key is the reference."""
        path = self._path(key)
        await asyncio.to_thread(_write, path, data)
        return key

    async def get(self, key: str) -> bytes | None:
        """Read the file back, or None."""
        path = self._path(key)
        return await asyncio.to_thread(_read, path)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None
