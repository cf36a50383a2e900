"""A state whose only node is the Application Server: every command that would open an
XSP or ADP node by default says so in one line, and the AS itself stays usable."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_xsp
from xsp.config.model import ModelError
from xsp.config.store import Store

NO_CTI_NODE = ("xsp: this state has no XSP or ADP node (add one in the AS's shell with: "
               "emu addnode NAME XSP)\n")


@pytest.fixture
def as_only(tmp_path: Path) -> Path:
    """A state whose only node is the Application Server."""
    store = Store(tmp_path / "state")
    with store.edit() as deployment:
        deployment.nodes[:] = [deployment.application_server]
    return store.dir


def test_the_shell_without_a_node_name_says_there_is_no_xsp_node(as_only: Path) -> None:
    result = run_xsp("shell", "--state", str(as_only), "-c", "get")
    assert (result.returncode, result.stdout, result.stderr) == (1, "", NO_CTI_NODE)


@pytest.mark.parametrize(("command", "status"), [("doctor", 1), ("replay", 2)])
def test_doctor_and_replay_say_there_is_no_xsp_node(as_only: Path, tmp_path: Path,
                                                      command: str, status: int) -> None:
    extra = []
    if command == "replay":
        recorded = tmp_path / "mop.txt"
        recorded.write_text("XSP_CLI> get\n", encoding="utf-8")
        extra = [str(recorded)]
    result = run_xsp(command, "--state", str(as_only), *extra)
    assert (result.returncode, result.stdout, result.stderr) == (status, "", NO_CTI_NODE)


def test_the_as_alone_still_opens_and_adds_an_xsp_node(as_only: Path) -> None:
    result = run_xsp("shell", "--state", str(as_only), "--node", "as1",
                     "-c", "emu addnode xsp9 XSP", "-c", "emu nodes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "xsp9" in result.stdout
    assert Store(as_only).load().first_cti_node().name == "xsp9"


def test_settings_of_the_other_kind_are_refused_by_name(as_only: Path) -> None:
    node = Store(as_only).load().application_server
    with pytest.raises(ModelError, match=r"^as1 is the Application Server; it has no CTI interface$"):
        node.xsp_settings
