"""The replays a play server offers its page: the .slp files of `dreamland play --replays DIR`
(searched recursively) and the file given with `--replay`.

The page names a replay by its key: its path relative to the folder, or the --replay file's own
name. The server opens only files of its own list, found by that key in a dictionary, so no path
a client sends is ever joined onto the filesystem: `..`, absolute paths and names of files that
are not listed are simply not keys. Symlinked folders are not followed, so the list cannot reach
outside the folder through one.

A listing rescans the folder, so a game saved while the server runs appears without a restart.
Each file's facts (characters, stage, length, date, players' names) come from its header alone
(peppi's `skip_frames`, which does not read the frames), cached by size and modification time: a
folder of thousands of games is listed without parsing a single game.
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

from dreamland.replay.parse import FIRST_FRAME, ReplayError, read_raw
from dreamland.schema import characters as C
from dreamland.schema import stages as S

# The newest games first; a list longer than this is no help for picking one on a page, and
# every listed file costs one header read the first time it is listed.
MAX_LISTED = 2000


@dataclass(frozen=True)
class ReplayEntry:
    key: str  # what the page sends back to open this replay
    path: Path
    size: int
    mtime_ns: int
    ident: tuple[int, int]  # device and inode: the --replay file is not listed twice


def _player(p: dict[str, Any]) -> dict[str, Any]:
    netplay = p.get("netplay") or {}
    # connect codes are stored with a full-width '#' (the game's text encoding); pages show '#'
    code = (netplay.get("code") or "").replace("\uff03", "#")
    return {"character": C.name_of_external(int(p.get("character", -1))),
            "name": netplay.get("name") or p.get("name_tag") or "", "code": code}


def header_facts(path: str | Path) -> dict[str, Any]:
    """Stage, players, length (frames from the first frame id, -123) and date of a replay, read
    from its header only; {"error": reason} when the header cannot be read (an in-progress game
    has no end to skip to: it may still open)."""
    try:
        raw = read_raw(str(path), skip_frames=True)
        start, meta = raw.start or {}, raw.metadata or {}
        last = meta.get("lastFrame")
        return {
            "stage": S.stage_name(int(start["stage"])) if "stage" in start else None,
            "players": [_player(p) for p in start.get("players") or []],
            "frames": last - FIRST_FRAME + 1 if isinstance(last, int) else None,
            "start_at": meta.get("startAt") if isinstance(meta.get("startAt"), str) else None,
        }
    except ReplayError as exc:
        if "skip to game end" in exc.detail.lower():  # peppi's words for a header without an end
            return {"error": "no game end: in progress or cut short"}
        return {"error": exc.reason if exc.reason != "parser error" else exc.detail[:120]}
    except Exception:  # noqa: BLE001 - a strange header is one entry without facts, not a failed list
        return {"error": "unreadable header"}


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(".slp"):
                yield Path(root, name)


class ReplayLibrary:
    """The list of replays a server may open, and their facts for the page."""

    def __init__(self, folder: str | Path | None = None, files: Sequence[str | Path] = ()) -> None:
        self.folder = Path(folder).expanduser() if folder else None
        if self.folder is not None and not self.folder.is_dir():
            raise NotADirectoryError(f"{folder}: not a folder of replays")
        self.files = [Path(f).expanduser() for f in files]
        self._entries: dict[str, ReplayEntry] = {}
        self._facts: dict[tuple[str, int, int], dict[str, Any]] = {}
        self._lock = threading.Lock()  # two listings at once share one cache
        self.scan()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def offered(self) -> bool:
        return self.folder is not None or bool(self.files)

    def scan(self) -> dict[str, ReplayEntry]:
        """Find the files again (folder first, then the --replay files not already in it)."""
        found: dict[str, ReplayEntry] = {}

        def add(key: str, path: Path, once: bool) -> None:
            try:
                st = path.stat()
            except OSError:
                return  # gone since it was listed, or a dangling link
            ident = (st.st_dev, st.st_ino)
            if not stat.S_ISREG(st.st_mode) or (once and any(e.ident == ident for e in found.values())):
                return
            while key in found:  # a --replay file named as one of the folder's
                key = f"(--replay) {key}"
            found[key] = ReplayEntry(key, path, st.st_size, st.st_mtime_ns, ident)

        if self.folder is not None:
            for path in _walk(self.folder):
                add(path.relative_to(self.folder).as_posix(), path, once=False)
        for path in self.files:  # listed under its folder key when it is one of the folder's
            add(path.name, path, once=True)
        self._entries = found  # one assignment: a lookup on another thread sees the old or the new
        return found

    def lookup(self, key: Any) -> ReplayEntry:
        """The entry of a key from the latest listing; KeyError for anything else."""
        entry = self._entries.get(key) if isinstance(key, str) else None
        if entry is None:
            raise KeyError(key)
        return entry

    def key_of(self, path: str | Path) -> str | None:
        """The key a file is listed under (None when it is not listed)."""
        try:
            st = Path(path).stat()
        except OSError:
            return None
        return next((e.key for e in self._entries.values() if e.ident == (st.st_dev, st.st_ino)), None)

    def listing(self, limit: int = MAX_LISTED) -> dict[str, Any]:
        """Rescan; the newest `limit` files with their header facts, and how many there are."""
        with self._lock:
            entries = sorted(self.scan().values(), key=lambda e: (-e.mtime_ns, e.key))[:limit]
            facts: dict[tuple[str, int, int], dict[str, Any]] = {}
            out = []
            for e in entries:
                ident = (str(e.path), e.size, e.mtime_ns)
                facts[ident] = self._facts.get(ident) or header_facts(e.path)
                out.append({"path": e.key, "size": e.size, "modified": e.mtime_ns // 1_000_000_000,
                            **facts[ident]})
            self._facts = facts  # forget files that left the folder
        return {"replays": out, "total": len(self._entries), "folder": self.folder is not None}


__all__ = ["MAX_LISTED", "ReplayEntry", "ReplayLibrary", "header_facts"]
