"""Building the distribution as pip does: quiet, and what it installs.

The build runs on a copy of the sources, so the checkout gets no ``build/`` directory,
with the setuptools of the test environment (no build isolation: no network).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "xsp", "trust", "cli_contexts")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of what the build reads, without caches."""
    copy = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, copy / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(ROOT / name, copy / name)
    return copy


@pytest.fixture(scope="module")
def built(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The wheel ``pip wheel`` builds, and everything the build printed."""
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("xsp-*.whl")
    return wheel, result.stdout + result.stderr


def _warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(r"warning|deprecat", line, re.I)
            # pip's own notes about this machine's package index settings are not the build's
            and "Location 'file:" not in line]


def test_the_wheel_builds_without_a_warning(built: tuple[Path, str]) -> None:
    """The licence is an SPDX string: no deprecation notice from setuptools."""
    _, output = built
    assert _warnings(output) == []


def _makefile_filter() -> str:
    match = re.search(r"^QUIET_EDITABLE := '([^']+)'$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "the Makefile names the warning filter of its editable install"
    return match.group(1)


def _build_editable(source: Path, out: Path, warnings_filter: str | None) -> str:
    env = {"PATH": "/usr/bin:/bin"}
    if warnings_filter is not None:
        env["PYTHONWARNINGS"] = warnings_filter
    result = subprocess.run(
        [sys.executable, "-c",
         "import sys; from setuptools import build_meta; build_meta.build_editable(sys.argv[1])",
         str(out)],
        cwd=source, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_the_editable_install_of_make_venv_prints_no_warning(source: Path, tmp_path: Path) -> None:
    """setuptools' editable-install notice is what the Makefile filters, and all it filters."""
    loud = _build_editable(source, tmp_path / "loud", None)
    assert "Editable installation." in loud  # the notice the filter exists for
    quiet = _build_editable(source, tmp_path / "quiet", _makefile_filter())
    assert _warnings(quiet) == []


def test_the_wheel_holds_the_command_trees_data(built: tuple[Path, str]) -> None:
    wheel, _ = built
    names = zipfile.ZipFile(wheel).namelist()
    assert {"cli_contexts/xsp.yaml", "cli_contexts/as.yaml", "cli_contexts/emulator.yaml",
            "cli_contexts/iana_cipher_suites.csv"} <= set(names)
