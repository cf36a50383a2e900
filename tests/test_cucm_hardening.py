"""The CUCM engine under generated input: every line gets an answer and never an internal
error, and a refused line leaves the configuration byte-identical."""
from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xsp_cli_contexts.cucm import load_pages, load_platform
from tests.test_cucm_shell import NoNode, new_cucm_state
from xsp.cli.cucm_engine import CucmEngine
from xsp.config.store import Store

_, PAGES = load_pages()
WORDS = sorted({w for c in load_platform().commands for w in c.words}
               | {"ccmadmin", "emu", "help", "y", "n", "yes", "set-port", "tftp", "status"}
               | set(PAGES)
               | {verb for page in PAGES.values() for verb in page.commands()}
               | {f.name for page in PAGES.values() for f in page.fields}
               | {"Install/Upgrade", "No Pending Operation", "RSA Only", "EC Only", "1234", "12",
                  "SEP00AABB112233", "jtapi1", "ctiapp", "2048", "384", "2026-01-01", "1.2", "1.3",
                  "Standard CTI Enabled"})
LINES = st.one_of(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(lambda ws: " ".join(shlex.quote(w) for w in ws)),
    st.text(max_size=60),
)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A new state with a CUCM node, copied for each generated case."""
    return new_cucm_state(tmp_path_factory.mktemp("cucm-fuzz"))


@settings(deadline=None, max_examples=150,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(LINES, min_size=1, max_size=6))
def test_generated_lines_never_crash_and_refusals_change_nothing(template, tmp_path_factory, lines):
    state = tmp_path_factory.mktemp("example") / "state"
    shutil.copytree(template, state)
    engine = CucmEngine(Store(state), "cucm1", NoNode())
    for line in lines:
        if "record" in line or "restart" in line or "\n" in line or "\r" in line:
            continue  # files outside the state and a running node are other tests' business
        before = engine.store.path.read_bytes()
        result = engine.execute(line)
        assert not any("internal error" in text for text in result.lines), (line, result.lines)
        if not result.ok:
            assert engine.store.path.read_bytes() == before, line
            assert result.lines and result.lines[0], line
