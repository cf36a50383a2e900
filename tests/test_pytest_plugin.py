"""The pytest plugin, as another project uses it: installed, and nothing but its fixtures."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_the_example_outside_the_test_tree_passes_with_the_plugin_fixtures(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         str(EXAMPLES / "test_webex_integration.py")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_the_plugin_is_registered_by_the_package_entry_point(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pytest", "--fixtures", "-q", "-p", "no:cacheprovider"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    for fixture in ("xsp_node", "webex_client", "call_driver"):
        assert fixture in result.stdout


def test_the_cucm_example_passes_with_the_plugin_fixtures(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         str(EXAMPLES / "test_cucm_jtapi_integration.py")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_the_cucm_fixtures_are_registered(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pytest", "--fixtures", "-q", "-p", "no:cacheprovider"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    for fixture in ("cucm_node", "jtapi_client"):
        assert fixture in result.stdout
