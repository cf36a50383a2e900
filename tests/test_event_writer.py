"""The event document is written directly, byte for byte what rendering its tree gives,
whatever the fields hold (markup characters, empty values, non-ASCII)."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xsp.cti import documents as docs
from xsp.cti.eventdata import Call, RemoteParty, call_event, hook_status

TEXT = st.text(alphabet=st.sampled_from(list("aZ09 <>&\"'é\u00e9\u2028:-@.")), max_size=12)


@settings(max_examples=300, deadline=None)
@given(event_id=TEXT, sequence=st.integers(1, 2**31 - 1), subscription=TEXT, channel=TEXT,
       target=TEXT, application=TEXT.filter(lambda t: t.strip() != ""),
       client=st.one_of(st.none(), TEXT), user=st.one_of(st.none(), TEXT),
       hook=st.sampled_from(["Off-Hook", "On-Hook"]))
def test_the_direct_writer_gives_the_rendered_tree_s_bytes(event_id, sequence, subscription,
                                                           channel, target, application,
                                                           client, user, hook):
    envelope = docs.Envelope(event_id, sequence, subscription, channel, target, application,
                             client, user)
    data = hook_status(hook)
    expected = docs._event_root(docs.event_tree(envelope, data))
    assert docs.event_document(envelope, data) == expected
    assert docs.event_document(envelope, data) == expected  # the cached event data too


def test_a_call_event_with_markup_in_its_fields_is_written_as_its_tree_renders():
    envelope = docs.Envelope("e<1>", 7, "s&1", "c\"1", "alice@example.com", "app",
                             "bwcticlient.webex.com", None)
    data = call_event("CallReceivedEvent", Call(
        "callhalf-1<", "ext&1", "Terminator", "Alerting",
        RemoteParty("tel:+1555", "Group", name="Bob & <Co>", user_id="bob@example.com"),
        1700000000000))
    assert docs.event_document(envelope, data) == docs._event_root(
        docs.event_tree(envelope, data))
