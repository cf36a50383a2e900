"""A running node's heap is frozen out of full collections; a restart lets go of what it replaced."""
from __future__ import annotations

import gc
import weakref

from xsp.testing import RunningNode


def test_a_restart_frees_the_listeners_it_replaced_though_they_were_frozen(tmp_path):
    with RunningNode.start(tmp_path) as node:
        node.restart_process()  # the configured listeners now exist when the node freezes
        assert gc.get_freeze_count() > 0
        host = node._thread.service.host
        old = weakref.ref(host.nodes["xsp1"].all()[0].site)
        node.restart()
        gc.collect()
        # Frozen objects are never collected: without a thaw at the restart, the old
        # listener's reference cycles would live until the node stops.
        assert old() is None
        assert gc.get_freeze_count() > 0  # what the node holds now is frozen again
    assert gc.get_freeze_count() == 0  # a stopped node thaws
