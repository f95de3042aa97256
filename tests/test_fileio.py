"""Atomic writes: a file appears whole or not at all, with the permissions a plain open would give."""
import os

import pytest

from snnc.compiler.errors import SnncError
from snnc.compiler.fileio import atomic_open, atomic_write


def test_failure_inside_the_block_leaves_nothing(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as f:
            f.write(b"half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_replaced_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as f:
            f.write("new")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    atomic_write(target, "new")
    assert target.read_text() == "new"


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.json", b"{}")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644


def test_missing_folder_and_folder_target_are_user_errors(tmp_path):
    with pytest.raises(SnncError, match="does not exist"):
        atomic_write(tmp_path / "nope" / "a.json", b"{}")
    with pytest.raises(SnncError, match="is a folder"):
        atomic_write(tmp_path, b"{}")
