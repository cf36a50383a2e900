"""An EventResponse in the plain form clients send is read without the XML parser, with
exactly the parser's result; every other form still goes through the parser."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xsp.cti import documents as docs
from xsp.cti.errors import XsiError

PIECES = st.text(alphabet=st.sampled_from(list("aZ09-_.:@ ,&<;#x\u00e9")), max_size=8)


def _slow(body: str):
    try:
        return docs.event_response(docs.parse_document(body, "EventResponse"))
    except XsiError as exc:
        return ("refused", exc.summary)


def _fast(body: str):
    try:
        return docs.parse_event_response(body)
    except XsiError as exc:
        return ("refused", exc.summary)


@settings(max_examples=500, deadline=None)
@given(declaration=st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>',
                                    '<?xml version="1.0" encoding="UTF-8"?>\n',
                                    "<?xml version='1.0'?>"]),
       event_id=PIECES, status=st.sampled_from(["200", "404", "481", "500", "400", "201",
                                                " 200", "abc"]),
       reason=PIECES, namespace=st.sampled_from([docs.NS, "urn:other"]),
       tail=st.sampled_from(["", "\n", "  ", "<!-- c -->", "x"]))
def test_the_fast_path_reads_what_the_parser_reads(declaration, event_id, status, reason,
                                                   namespace, tail):
    body = (f'{declaration}<EventResponse xmlns="{namespace}"><eventID>{event_id}</eventID>'
            f"<statusCode>{status}</statusCode><reason>{reason}</reason></EventResponse>{tail}")
    assert _fast(body) == _slow(body)
    assert _fast(body.encode()) == _slow(body)


def test_the_webex_client_s_form_takes_the_fast_path():
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<EventResponse xmlns="{docs.NS}">'
            "<eventID>3f1c2a8e-1b7d-4c55-9e0a-2d5b6f7a8c90</eventID>"
            "<statusCode>200</statusCode><reason>OK</reason></EventResponse>")
    assert docs._PLAIN_EVENT_RESPONSE.match(body)
    assert docs.parse_event_response(body) == docs.EventResponse(
        "3f1c2a8e-1b7d-4c55-9e0a-2d5b6f7a8c90", 200, "OK")


def test_an_over_long_event_id_is_refused_as_before():
    body = (f'<EventResponse xmlns="{docs.NS}"><eventID>{"a" * 300}</eventID>'
            "<statusCode>200</statusCode><reason>OK</reason></EventResponse>")
    with pytest.raises(XsiError, match="longer than 256"):
        docs.parse_event_response(body)
