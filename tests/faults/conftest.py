"""A small full filesystem for the tests that need one: a tmpfs mounted for the test, or a skip that
says why it cannot be mounted here (not root, no mount privilege in a container)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dreamland.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _mount_tmpfs(where: Path, size: str) -> str | None:
    """Mount a tmpfs of `size` at `where`; the reason it cannot be done, or None."""
    if sys.platform != "linux":
        return "a tmpfs mount needs Linux"
    if os.geteuid() != 0:
        return "mounting a small full filesystem needs root"
    if shutil.which("mount") is None:
        return "no mount command"
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755",
                           f"dreamland-full-{uuid.uuid4().hex[:6]}", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode})"
    return None


@pytest.fixture
def small_disk(tmp_path):
    """A filesystem of a few hundred KB at tmp_path/disk: enough for a dataset's folder and its
    dataset.json, not for a batch of games or a store."""
    where = tmp_path / "disk"
    why = _mount_tmpfs(where, "256k")
    if why:
        pytest.skip(why)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
