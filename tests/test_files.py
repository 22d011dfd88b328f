"""Atomic file replacement (store/atomic.py): whole files only, and modes that follow the umask."""

from __future__ import annotations

import os
import stat

import pytest

from initcmp.store import atomic


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_replaced_file_has_the_mode_the_umask_gives(tmp_path, umask, mode):
    saved = os.umask(umask)
    try:
        atomic.write_text(tmp_path / "result.json", "{}\n")
    finally:
        os.umask(saved)
    assert stat.S_IMODE((tmp_path / "result.json").stat().st_mode) == mode


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic.replaced(path) as f:
            f.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.jsonl"]
