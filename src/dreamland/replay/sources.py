"""Finding replays among the inputs: loose files, folders and archives, read as streams.

peppi reads from a path only, so an archive member is decompressed in memory and handed to a worker
as a file in a spool folder on a memory-backed filesystem (/dev/shm where there is one); the
archive itself is never unpacked to disk.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import queue
import tarfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

REPLAY_SUFFIXES = (".slp", ".slp.gz")
ARCHIVE_SUFFIXES = (".zip", ".7z", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


class SourceError(Exception):
    """A SOURCE argument that names nothing usable."""


def _lower(p: str) -> str:
    return p.lower()


def is_replay_name(name: str) -> bool:
    return _lower(name).endswith(REPLAY_SUFFIXES)


def is_archive_name(name: str) -> bool:
    return _lower(name).endswith(ARCHIVE_SUFFIXES)


@dataclass(frozen=True)
class Source:
    """One input file: a replay or an archive. `key` is stable across machines (relative to the
    SOURCE argument it came from) and decides which shard processes it."""

    path: str  # absolute path
    key: str
    is_archive: bool
    size: int
    mtime: float


def discover(arguments: list[str]) -> list[Source]:
    """Expand SOURCE arguments (files, folders searched recursively) into sorted sources."""
    if not arguments:
        raise SourceError("no SOURCE given")
    found: dict[str, Source] = {}
    for arg in arguments:
        root = Path(arg).expanduser()
        if not root.exists():
            raise SourceError(f"{arg}: no such file or folder")
        if root.is_file():
            candidates = [(root, root.name)]
        else:
            candidates = []
            for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
                dirnames.sort()
                for fn in sorted(filenames):
                    full = Path(dirpath) / fn
                    candidates.append((full, f"{root.name}/{full.relative_to(root).as_posix()}"))
        for path, key in candidates:
            name = path.name
            if not (is_replay_name(name) or is_archive_name(name)):
                if root.is_file():
                    raise SourceError(f"{arg}: not a .slp replay or a supported archive")
                continue
            st = path.stat()
            absolute = str(path.resolve())
            found.setdefault(
                absolute,
                Source(absolute, key, is_archive_name(name), st.st_size, st.st_mtime),
            )
    if not found:
        raise SourceError(
            "no replays found in " + ", ".join(arguments) + " (looked for .slp, .slp.gz and archives)"
        )
    return sorted(found.values(), key=lambda s: s.key)


def shard_of(key: str, n: int) -> int:
    """Deterministic shard of a source key: the same on every machine and every run."""
    return int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") % n


def maybe_gunzip(name: str, data: bytes) -> bytes:
    return gzip.decompress(data) if _lower(name).endswith(".gz") else data


def member_names(path: str) -> list[str] | None:
    """Replay members of a zip or 7z archive, read from its index (cheap); None for tar streams,
    whose members are only known by reading them."""
    lower = _lower(path)
    try:
        if lower.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                return [i.filename for i in zf.infolist() if is_replay_name(i.filename)]
        if lower.endswith(".7z"):
            import py7zr

            with py7zr.SevenZipFile(path) as archive:
                return [i.filename for i in archive.list() if is_replay_name(i.filename)]
    except Exception:  # noqa: BLE001 - an unreadable archive is reported when it is read
        return []
    return None


def expected_count(sources: list[Source], shard: tuple[int, int]) -> int | None:
    """How many replays this shard will see, for the progress bar; None if unknowable upfront."""
    index, count = shard
    total = 0
    for src in sources:
        if not src.is_archive:
            total += shard_of(src.key, count) == index
            continue
        names = member_names(src.path)
        if names is None:
            return None
        total += sum(shard_of(f"{src.key}::{m}", count) == index for m in names)
    return total


# --- archive members as a stream of (member name, size, bytes) ---------------------------------


def iter_archive(path: str, wanted=None) -> Iterator[tuple[str, int, bytes | None]]:
    """Yield (member, uncompressed size, bytes) for every replay member, in archive order.

    `wanted(member, size) -> bool` lets the caller skip members it already has; skipped members
    are yielded with bytes None (7z solid blocks are still decompressed, but never kept).
    Raises SourceError for an unreadable archive.
    """
    lower = _lower(path)
    try:
        if lower.endswith(".zip"):
            yield from _iter_zip(path, wanted)
        elif lower.endswith(".7z"):
            yield from _iter_7z(path, wanted)
        else:
            yield from _iter_tar(path, wanted)
    except SourceError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, ValueError) as exc:
        raise SourceError(f"{path}: unreadable archive ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # py7zr raises its own exception classes
        raise SourceError(f"{path}: unreadable archive ({type(exc).__name__}: {exc})") from None


def _want(wanted, name: str, size: int) -> bool:
    return wanted is None or wanted(name, size)


def _iter_zip(path: str, wanted):
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.is_dir() or not is_replay_name(info.filename):
                continue
            if not _want(wanted, info.filename, info.file_size):
                yield info.filename, info.file_size, None
                continue
            yield info.filename, info.file_size, zf.read(info)


def _iter_tar(path: str, wanted):
    # "r|*" reads the archive strictly as a stream (no seeking), whatever its compression.
    with tarfile.open(path, mode="r|*") as tf:
        for member in tf:
            if not member.isfile() or not is_replay_name(member.name):
                continue
            if not _want(wanted, member.name, member.size):
                yield member.name, member.size, None
                continue
            fh = tf.extractfile(member)
            yield member.name, member.size, fh.read() if fh else b""


def _iter_7z(path: str, wanted):
    """py7zr pushes decompressed members into writer objects; a thread turns that into a stream,
    and a bounded queue keeps at most a few members in memory."""
    import py7zr
    from py7zr.io import Py7zIO, WriterFactory

    with py7zr.SevenZipFile(path) as archive:
        infos = [i for i in archive.list() if i.is_file and is_replay_name(i.filename)]
    sizes = {i.filename: i.uncompressed for i in infos}
    out: queue.Queue = queue.Queue(maxsize=4)
    done = object()
    stop = threading.Event()

    class Member(Py7zIO):
        def __init__(self, name: str):
            self.name = name
            self.keep = name in sizes and _want(wanted, name, sizes[name])
            self.chunks: list[bytes] = []
            self.length = 0

        def write(self, s):
            if stop.is_set():
                raise RuntimeError("stream closed")
            if self.keep:
                self.chunks.append(bytes(s))
            self.length += len(s)
            return len(s)

        def read(self, size=None):
            return b""

        def seek(self, offset, whence=0):
            return 0

        def flush(self):
            pass

        def size(self):
            return self.length

        def close(self):
            if self.name in sizes:
                data = b"".join(self.chunks) if self.keep else None
                self.chunks = []
                out.put((self.name, sizes[self.name], data))

    class Factory(WriterFactory):
        def create(self, filename):
            return Member(filename)

    error: list[BaseException] = []

    def run():
        try:
            with py7zr.SevenZipFile(path) as archive:
                archive.extract(targets=list(sizes), factory=Factory())
        except BaseException as exc:  # noqa: BLE001 - reported to the consumer below
            if not stop.is_set():
                error.append(exc)
        finally:
            out.put(done)

    thread = threading.Thread(target=run, name="7z-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = out.get()
            if item is done:
                break
            yield item
        if error:
            raise error[0]
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on the full queue
            try:
                out.get(timeout=0.05)
            except queue.Empty:
                pass
