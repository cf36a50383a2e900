"""`pytest --fixtures` explains every fixture of the plugin and of these tests."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_fixture_of_the_plugin_and_the_tests_has_a_docstring() -> None:
    result = subprocess.run([sys.executable, "-m", "pytest", "--fixtures", "-q", "tests"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    # Each fixture is a "name -- location" line followed by its indented docstring.
    ours = re.findall(r"^(\S+(?: \[\w+ scope\])? -- (?:xsp|tests)/\S+)\n    (.*)$",
                      result.stdout, re.M)
    assert {"xsp_node", "webex_client", "call_driver", "state", "xsp"} <= {
        line.split()[0] for line, _ in ours}
    assert [line for line, doc in ours if doc == "no docstring available"] == []
