from pathlib import Path

import pytest

from dreamland.fsutil import write_atomic, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_staged_file(tmp_path: Path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"old")

    def fail(staged: str) -> None:
        Path(staged).write_bytes(b"half")
        raise OSError("No space left on device")

    with pytest.raises(OSError):
        write_atomic(path, fail)
    with pytest.raises(OSError):
        write_atomic(path, fail, tmp_path / "weights.bin.tmp")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.bin"]


def test_a_write_replaces_the_file_whole(tmp_path: Path):
    path = tmp_path / "LATEST"
    write_text_atomic(path, "step-00000100")
    write_text_atomic(path, "step-00000200")
    write_atomic(tmp_path / "b.bin", lambda staged: Path(staged).write_bytes(b"\x00\x01"))
    assert path.read_text() == "step-00000200"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["LATEST", "b.bin"]
