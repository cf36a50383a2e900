"""The test set-up's package installer refuses, in one line, where it cannot install."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_apt_install_says_what_is_missing_and_installs_nothing_without_root_or_apt(tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with `id` and nothing of apt
    bin_dir.mkdir()
    (bin_dir / "id").symlink_to(shutil.which("id"))
    result = subprocess.run(
        ["/bin/sh", str(ROOT / "tests/apt-install.sh"), "install-thing", "The thing", "thing",
         "thing-extra"],
        env={"PATH": str(bin_dir)}, capture_output=True, text=True, timeout=30)
    expected = ("install-thing: no apt-get here; install The thing from your system's packages\n"
                if os.geteuid() == 0 else
                "install-thing: The thing is missing; run as root, or: sudo apt-get install "
                "thing thing-extra\n")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", expected)
