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
    assert {"xsp_cli_contexts/xsp.yaml", "xsp_cli_contexts/as.yaml",
            "xsp_cli_contexts/emulator.yaml", "xsp_cli_contexts/iana_cipher_suites.csv",
            "xsp/live/static/index.html"} <= set(names)


def _package_dirs() -> dict[str, str]:
    """Each package directory of the checkout, by the name it is installed as."""
    names = {"xsp": "xsp", "trust": "xsp_trust", "cli_contexts": "xsp_cli_contexts"}
    found = {}
    for directory, name in names.items():
        for init in sorted((ROOT / directory).rglob("__init__.py")):
            relative = init.parent.relative_to(ROOT / directory).parts
            found[".".join([name, *relative])] = str(init.parent.relative_to(ROOT))
    return found


def test_the_wheel_installs_distinct_names_and_every_package(built: tuple[Path, str]) -> None:
    """trust/ and cli_contexts/ are installed as xsp_trust and xsp_cli_contexts: no
    generic top-level name another distribution could also install. Every package
    directory of the checkout is in the wheel (pyproject.toml lists them by hand)."""
    wheel, _ = built
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"xsp", "xsp_trust", "xsp_cli_contexts"}
    packages = {name.rsplit("/", 1)[0].replace("/", ".") for name in names
                if name.endswith("/__init__.py")}
    assert packages == set(_package_dirs())


def test_a_fresh_environment_runs_the_installed_wheel(built: tuple[Path, str], tmp_path: Path) -> None:
    """`pip install` of the wheel into a new virtual environment (its dependencies lent
    by this one, without this checkout): the command runs, trust's certificates and the
    command trees' YAML come from the installed names, and no `trust` is importable."""
    wheel, _ = built
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True,
                   timeout=60)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The dependencies only: a path entry is not a site directory, so the editable
    # install's finder in this environment is not loaded there.
    lent = subprocess.run([sys.executable, "-c", "import yaml, os; print(os.path.dirname(os.path.dirname(yaml.__file__)))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "lent-dependencies.pth").write_text(lent + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=120)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    work = tmp_path / "work"
    work.mkdir()
    env = {"PATH": f"{env_dir / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=work, env=env, capture_output=True, text=True,
                              timeout=120)

    where = run(str(python), "-c", "import xsp, xsp_trust, xsp_cli_contexts as c; "
                "print(xsp.__file__, xsp_trust.__file__, c.__file__, sep='\\n')")
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(site) for line in where.stdout.splitlines()), where.stdout
    assert run(str(python), "-c", "import trust").returncode == 1
    assert run(str(python), "-c", "import cli_contexts").returncode == 1
    version = run("xsp", "--version")
    assert (version.returncode, version.stdout) == (0, "xsp 0.1.0\n"), version.stderr
    pki = run("xsp", "pki", "demo", "-o", "pki")
    assert pki.returncode == 0 and (work / "pki" / "webex-client.key").exists(), pki.stderr
    shell = run("xsp", "shell", "--state", "st", "-c", "help emu")
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.splitlines()[1] == "Commands of the xsp emulator (not part of BroadWorks)."
