"""Durable writes: what ingest batches and training checkpoints both need before a rename; atomic
ones: a file replaced whole (weights, configs, reports, small texts); and reproducible ones: the
same checkpoint saved twice is the same bytes. Every atomic write in the project goes through
`write_atomic`."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable


def fsync(path: Path) -> None:
    """Flush a file or a folder (its entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, write: Callable[[str], None], staged: Path | None = None) -> None:
    """Replace `path` with what `write(staged)` writes, in one step: a reader, or a process killed
    mid-write, sees the old file or the new one, never half of one. The staged file (by default a
    fresh hidden name beside `path` ending in ".tmp", the suffix the callers' clean-ups of stale
    files look for) is flushed to disk before the rename; a write that fails (a full disk) leaves
    none behind."""
    if staged is None:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        staged = Path(name)
    try:
        write(str(staged))
        with open(staged, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """`write_atomic` of a text, staged in `path` + ".tmp"."""
    write_atomic(path, lambda staged: Path(staged).write_text(text, encoding="utf-8"),
                 path.with_name(path.name + ".tmp"))


def sort_safetensors_metadata(path: Path) -> None:
    """Rewrite a safetensors file's metadata with its keys sorted, in place.

    The safetensors writer keeps metadata in a hash map whose order changes from one process to the
    next, so the same weights saved twice are not the same bytes (nor the same checksum). The
    header is rewritten only when it re-serialises to exactly its own bytes, so a header this
    function does not understand is left as it is.
    """
    with open(path, "r+b") as fh:
        size = int.from_bytes(fh.read(8), "little")
        raw = fh.read(size)
        try:
            header = json.loads(raw)
        except ValueError:
            return
        meta = header.get("__metadata__") if isinstance(header, dict) else None
        if not isinstance(meta, dict) or _compact_json(header) != raw.rstrip(b" "):
            return
        header["__metadata__"] = dict(sorted(meta.items()))
        fh.seek(8)
        fh.write(_compact_json(header).ljust(size, b" "))


def _compact_json(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
