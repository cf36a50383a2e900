"""The running node and its state: anchors read from a capath directory per anchor set,
and an invalid hand edit that does not stop the node serving."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from _node_support import (TEST_ANCHOR_ALIAS, TRUSTS, ConfiguredNode, MatrixPKI,
                           attempt, client_context, configured_node, make_pki)
from xsp.tls import capath


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> MatrixPKI:
    """The certificates of the node tests (``make_pki``), made once for the module."""
    return make_pki(tmp_path_factory.mktemp("node-state-pki"))


@pytest.fixture
def node(tmp_path: Path, pki: MatrixPKI) -> Iterator[ConfiguredNode]:
    """A node configured by the guide's procedure on a new state, for one test."""
    with configured_node(tmp_path, pki) as running:
        yield running


def _anchor_dirs(node: ConfiguredNode) -> list[Path]:
    return sorted((node.store.dir / "anchors").iterdir())


@pytest.mark.skipif(capath.available() is not None, reason=str(capath.available()))
def test_a_restart_reads_anchors_from_one_directory_per_set_and_drops_the_old_one(
        node: ConfiguredNode, pki: MatrixPKI) -> None:
    (directory,) = _anchor_dirs(node)
    assert len(list(directory.iterdir())) == 3  # the two Webex CAs and the test anchor
    assert attempt(node.port, client_context(pki, pki.partial_chain)).served
    node.run(f"cd {TRUSTS}", f"delete {TEST_ANCHOR_ALIAS}")
    node.restart()
    (after,) = _anchor_dirs(node)
    assert after != directory and len(list(after.iterdir())) == 2
    assert attempt(node.port, client_context(pki, pki.partial_chain)).alert == "TLSV1_ALERT_UNKNOWN_CA"
    assert attempt(node.port, client_context(pki, pki.webex_leaf())).served


def test_an_invalid_hand_edit_keeps_the_node_serving_and_is_logged_once(
        node: ConfiguredNode, pki: MatrixPKI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xsp.node")
    good = node.store.path.read_text()
    node.store.path.write_text(good + "version: 1\n")  # a duplicate key
    bad_line = len(good.splitlines()) + 1
    outcomes = [attempt(node.port, client_context(pki, pki.webex_leaf())) for _ in range(3)]
    # Served as before: the probe path is a channel set the client does not have.
    assert [(o.alert, o.status) for o in outcomes] == [(None, 404)] * 3
    lines = [r.getMessage() for r in caplog.records if r.name == "xsp.node"]
    first = next(i for i, text in enumerate(good.splitlines(), 1) if text.startswith("version:"))
    assert lines == ["the configuration cannot be used; serving from the last good one until it "
                     f"is fixed: {node.store.path}:{bad_line}: duplicate key 'version' (first at "
                     f"line {first}); each setting may appear once"]
    node.store.path.write_text(good)
    time.sleep(0.01)
    assert attempt(node.port, client_context(pki, pki.webex_leaf())).status == 404
    assert [r.getMessage() for r in caplog.records if r.name == "xsp.node"][1:] == [
        "the configuration is valid again; serving from it"]
