import stat
from pathlib import Path

import pytest

from lightning_occ.utils.atomic import atomic_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_written_file_gets_the_permissions_of_a_plainly_created_one(tmp_path):
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"x")
    target = tmp_path / "weights.bin"
    with atomic_path(target) as partial:
        partial.write_bytes(b"x")
    assert mode(target) == mode(plain)


def test_an_error_leaves_the_old_file_and_no_partial_file(tmp_path):
    target = tmp_path / "weights.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as partial:
            partial.write_bytes(b"ne")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.bin"]
