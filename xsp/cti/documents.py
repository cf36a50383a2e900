"""Xsi-Events XML as the server writes and reads it.

Documents are written by hand from small ``Node`` trees rather than with ElementTree's
serializer because the Xsi envelope binds the prefix ``xsi`` to the BroadWorks
namespace and ``xsi1`` to XML Schema instance, and ElementTree only chooses prefixes
through a process-wide registry (where ``xsi`` already means XML Schema instance).
Everything is written on one line after the declaration: public clients split the
stream on ``</xsi:Event>``, ``</Channel>`` and the exact heartbeat text, and some drop
what they have buffered at each newline.

Request bodies are read with ElementTree after refusing any DOCTYPE, so no entity is
ever expanded, and must be in the Xsi namespace with the expected root element.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from xsp.cti.errors import ErrorCode, XsiError

NS = "http://schema.broadsoft.com/xsi"
XSI_INSTANCE = "http://www.w3.org/2001/XMLSchema-instance"
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
HEARTBEAT = f'<ChannelHeartBeat xmlns="{NS}"/>'

_MAX_ID = 256
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


# --- building -------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    """An element of an Xsi document: a local name, text or children, an ``xsi:type``."""

    tag: str
    text: str | None = None
    children: tuple[Node, ...] = ()
    type: str | None = None  # rendered as xsi1:type="xsi:<type>" in an event document

    def child(self, tag: str) -> Node | None:
        return next((c for c in self.children if c.tag == tag), None)


def el(tag: str, *children: Node | None, type: str | None = None) -> Node:
    """An element with children; ``None`` children are left out (optional elements)."""
    return Node(tag, None, tuple(c for c in children if c is not None), type)


def leaf(tag: str, value: object) -> Node:
    return Node(tag, str(value))


def opt(tag: str, value: object | None) -> Node | None:
    return None if value is None else leaf(tag, value)


def render(node: Node, prefix: str = "", namespaces: str = "") -> str:
    """The element as text; ``prefix`` ("xsi") for event documents, "" for the others.

    ``namespaces`` holds the declarations written on the root element.
    """
    out: list[str] = []
    _render_into(out, node, prefix, namespaces)
    return "".join(out)


def _render_into(out: list[str], node: Node, prefix: str, attrs: str) -> None:
    # Into one list joined once: an event's data is a tree of a few dozen elements,
    # rendered for every event, and a string per subtree cost a third more.
    name = f"{prefix}:{node.tag}" if prefix else node.tag
    if node.type and prefix:
        attrs += f" xsi1:type={quoteattr(prefix + ':' + node.type)}"
    if node.children:
        out.append(f"<{name}{attrs}>")
        for child in node.children:
            _render_into(out, child, prefix, "")
        out.append(f"</{name}>")
    elif node.text:
        out.append(f"<{name}{attrs}>{_escape(node.text)}</{name}>")
    else:
        out.append(f"<{name}{attrs}/>")


def _escape(text: str) -> str:
    """``saxutils.escape``'s text; most values (ids, numbers, names) need none of it."""
    if "&" in text or "<" in text or ">" in text:
        return escape(text)
    return text


def document(node: Node) -> str:
    """A default-namespace document (Channel, Subscription, ErrorInfo...)."""
    return f'{DECLARATION}\n{render(node, "", f" xmlns={quoteattr(NS)}")}'


@dataclass(frozen=True)
class EventData:
    """What an event says: the ``xsi:type`` of its ``eventData`` and the elements inside."""

    type: str
    body: tuple[Node, ...] = ()

    def value(self, tag: str) -> str | None:
        node = next((n for n in self.body if n.tag == tag), None)
        return None if node is None else node.text

    def node(self) -> Node:
        return Node("eventData", None, self.body, self.type)


@dataclass(frozen=True)
class Envelope:
    """The fields of an ``xsi:SubscriptionEvent`` around its event data.

    ``client_id`` is the certificate CN of the subscribing client; BroadWorks writes it
    in place of ``userId`` for a certificate-authenticated application (as in the
    events Webex receives). A client without a certificate gets ``userId`` instead.
    """

    event_id: str
    sequence_number: int
    subscription_id: str
    channel_id: str
    target_id: str
    external_application_id: str
    client_id: str | None
    user_id: str | None


def event_document(envelope: Envelope, data: EventData) -> str:
    """The ``xsi:SubscriptionEvent`` document, written directly: the same text as
    ``render`` gives for the tree (``event_tree``), at a third of the cost, and the
    event data rendered once however many subscriptions it goes to."""
    e = envelope
    if not e.external_application_id.strip():
        # The schema's ExternalApplicationId is a non-empty token; the hub fills it in.
        raise ValueError("externalApplicationId must not be empty")
    if e.client_id is None:
        who = "" if e.user_id is None else _xsi_leaf("userId", e.user_id)
    else:
        who = _xsi_leaf("clientId", e.client_id)
    return "".join((
        _EVENT_OPEN, _xsi_leaf("eventID", e.event_id),
        _xsi_leaf("sequenceNumber", str(e.sequence_number)), who,
        _xsi_leaf("externalApplicationId", e.external_application_id),
        _xsi_leaf("subscriptionId", e.subscription_id), _xsi_leaf("channelId", e.channel_id),
        _xsi_leaf("targetId", e.target_id), _rendered_event_data(data), _EVENT_CLOSE))


def event_tree(envelope: Envelope, data: EventData) -> Node:
    """The event document as a tree (what ``event_document`` writes)."""
    e = envelope
    return el("Event",
              leaf("eventID", e.event_id),
              leaf("sequenceNumber", e.sequence_number),
              opt("userId", e.user_id) if e.client_id is None else leaf("clientId", e.client_id),
              leaf("externalApplicationId", e.external_application_id),
              leaf("subscriptionId", e.subscription_id),
              leaf("channelId", e.channel_id),
              leaf("targetId", e.target_id),
              data.node(),
              type="SubscriptionEvent")


def _xsi_leaf(tag: str, text: str) -> str:
    if text == "":
        return f"<xsi:{tag}/>"
    return f"<xsi:{tag}>{_escape(text)}</xsi:{tag}>"


_RENDERED = "_xsp_rendered"


def _rendered_event_data(data: EventData) -> str:
    # Kept on the (immutable) EventData itself: one event for 20,000 subscriptions is
    # rendered once, not 20,000 times.
    text: str | None = data.__dict__.get(_RENDERED)
    if text is None:
        text = render(data.node(), "xsi")
        object.__setattr__(data, _RENDERED, text)
    return text


# ChannelTerminatedReason: the schema's fixed list, nothing else may be sent.
DUPLICATE_CHANNEL_SET = "DuplicateChannelSet"
USER_DELETED = "UserDeleted"
NON_RESPONSIVE_CHANNEL = "NonResponsiveChannel"
EXPLICIT_DELETE = "ExplicitDelete"
EXPIRED = "Expired"
UNKNOWN_CHANNEL = "UnknownChannel"
TERMINATION_REASONS = (DUPLICATE_CHANNEL_SET, USER_DELETED, NON_RESPONSIVE_CHANNEL,
                       EXPLICIT_DELETE, EXPIRED, UNKNOWN_CHANNEL)


def channel_terminated_document(channel_id: str, reason: str) -> str:
    """Not a subscription event: no eventID, not acknowledged."""
    if reason not in TERMINATION_REASONS:
        raise ValueError(f"not a ChannelTerminatedReason: {reason!r}")
    return _event_root(el("Event", leaf("channelId", channel_id), leaf("reason", reason),
                          type="ChannelTerminatedEvent"))


def error_event_document(code: int, message: str) -> str:
    """What a channel answers when the client writes something other than an
    EventResponse or a heartbeat on it."""
    return _event_root(el("Event", leaf("errorCode", code), leaf("errorMessage", message),
                          type="ErrorEvent"))


def _event_root(root: Node) -> str:
    return DECLARATION + render(root, "xsi", _EVENT_NAMESPACES)


_EVENT_NAMESPACES = f' xmlns:xsi="{NS}" xmlns:xsi1="{XSI_INSTANCE}"'
_EVENT_OPEN = (f"{DECLARATION}<xsi:Event{_EVENT_NAMESPACES} "
               f"xsi1:type={quoteattr('xsi:SubscriptionEvent')}>")
_EVENT_CLOSE = "</xsi:Event>"


def channel_document(channel_id: str, expires: int) -> str:
    return document(el("Channel", leaf("channelId", channel_id), leaf("expires", expires)))


def subscription_document(subscription_id: str, expires: int) -> str:
    return document(el("Subscription", leaf("subscriptionId", subscription_id),
                       leaf("expires", expires)))


def error_info_document(summary: str, code: int) -> str:
    # The emulator speaks English only, so both summaries are the same text; the schema
    # wants them non-empty.
    text = summary if summary.strip() else "Error"
    return document(el("ErrorInfo", leaf("summary", text), leaf("summaryEnglish", text),
                       leaf("errorCode", code)))


@dataclass(frozen=True)
class ChannelInfo:
    channel_id: str
    channel_set_id: str
    priority: int
    weight: int
    expires: int
    application_id: str | None = None


def channel_set_document(channels: Sequence[ChannelInfo]) -> str:
    """The answer to a channel set audit: ``<ChannelSet>`` listing its ``channel``s,
    each with the fields of a ``Channel`` (the schema has no place for anything else)."""
    if not channels:
        raise ValueError("a ChannelSet lists at least one channel")
    return document(el("ChannelSet", *(
        el("channel", leaf("channelId", c.channel_id), leaf("channelSetId", c.channel_set_id),
           leaf("priority", c.priority), leaf("weight", c.weight), leaf("expires", c.expires),
           opt("applicationId", c.application_id))
        for c in channels)))


# --- reading requests -----------------------------------------------------------------

@dataclass(frozen=True)
class ChannelRequest:
    channel_set_id: str
    priority: int = 1
    weight: int = 50
    expires: int | None = None
    application_id: str | None = None


@dataclass(frozen=True)
class SubscriptionRequest:
    event: str
    channel_set_id: str
    expires: int | None = None
    application_id: str = ""


@dataclass(frozen=True)
class EventResponse:
    event_id: str
    status_code: int = 200
    reason: str = "OK"


def parse_document(body: bytes | str, root: str | Iterable[str]) -> ET.Element:
    """The root element of a request body, or ``XsiError`` saying what is wrong with it."""
    roots = (root,) if isinstance(root, str) else tuple(root)
    data = body.encode() if isinstance(body, str) else body
    if not data.strip():
        raise XsiError(ErrorCode.INVALID_XML, f"Empty request body; expected a {roots[0]} document")
    if _DOCTYPE.search(data):
        raise XsiError(ErrorCode.INVALID_XML, "DOCTYPE and entity declarations are not accepted")
    try:
        element = ET.fromstring(data)
    except ET.ParseError as exc:
        raise XsiError(ErrorCode.INVALID_XML, f"Request body is not well-formed XML: {exc}") from None
    namespace, _, local = element.tag[1:].partition("}") if element.tag.startswith("{") else ("", "", element.tag)
    if local not in roots:
        raise XsiError(ErrorCode.INVALID_XML,
                       f"Expected a {' or '.join(roots)} document, got {local}")
    if namespace != NS:
        raise XsiError(ErrorCode.INVALID_XML,
                       f"{local} must be in the namespace {NS}, got {namespace or 'none'}")
    return element


def local_name(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def text_of(element: ET.Element, tag: str, *, required: bool = False) -> str | None:
    child = element.find(f"{{{NS}}}{tag}")
    value = None if child is None or child.text is None else child.text.strip()
    if required and not value:
        raise XsiError(ErrorCode.INVALID_VALUE, f"{local_name(element)}: {tag} is required")
    return value or None


def int_of(element: ET.Element, tag: str, *, minimum: int = 1) -> int | None:
    value = text_of(element, tag)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise XsiError(ErrorCode.INVALID_VALUE,
                       f"{local_name(element)}: {tag} must be an integer of at least {minimum}, "
                       f"got {value!r}")
    return number


def _identifier(element: ET.Element, tag: str) -> str:
    value = text_of(element, tag, required=True)
    assert value is not None
    if len(value) > _MAX_ID:
        raise XsiError(ErrorCode.INVALID_VALUE,
                       f"{local_name(element)}: {tag} is longer than {_MAX_ID} characters")
    return value


def _application_id(element: ET.Element) -> str | None:
    """Copied into every event of the subscription: the schema's 1 to 256 characters."""
    value = text_of(element, "applicationId")
    if value is not None and len(value) > _MAX_ID:
        raise XsiError(ErrorCode.INVALID_VALUE,
                       f"{local_name(element)}: applicationId is longer than {_MAX_ID} "
                       "characters")
    return value


def channel_request(element: ET.Element) -> ChannelRequest:
    return ChannelRequest(
        channel_set_id=_identifier(element, "channelSetId"),
        priority=int_of(element, "priority") or 1,
        weight=int_of(element, "weight") or 50,
        expires=int_of(element, "expires"),
        application_id=_application_id(element))


def parse_channel_request(body: bytes | str) -> ChannelRequest:
    return channel_request(parse_document(body, "Channel"))


def parse_expires(body: bytes | str, root: str) -> int | None:
    """The expires of a refresh; an empty body asks for the default."""
    if not (body.strip() if isinstance(body, (bytes, str)) else body):
        return None
    return int_of(parse_document(body, root), "expires")


def parse_subscription_request(body: bytes | str) -> SubscriptionRequest:
    element = parse_document(body, "Subscription")
    return SubscriptionRequest(
        event=_identifier(element, "event"),
        channel_set_id=_identifier(element, "channelSetId"),
        expires=int_of(element, "expires"),
        application_id=_application_id(element) or "")


# EventResponseStatusCode: received, channel unknown, subscription unknown, the client
# failed (try another channel), the client cannot process this event (drop it).
EVENT_RESPONSE_CODES = (200, 404, 481, 500, 400)


def event_response(element: ET.Element) -> EventResponse:
    status = text_of(element, "statusCode")
    if status is not None and (not status.isdigit() or int(status) not in EVENT_RESPONSE_CODES):
        raise XsiError(ErrorCode.INVALID_VALUE,
                       "EventResponse: statusCode must be one of "
                       f"{', '.join(map(str, sorted(EVENT_RESPONSE_CODES)))}, got {status!r}")
    return EventResponse(
        event_id=_identifier(element, "eventID"),
        status_code=int(status) if status is not None else 200,
        reason=text_of(element, "reason") or "")


def parse_event_response(body: bytes | str) -> EventResponse:
    text = body if isinstance(body, str) else body.decode("ascii", "replace")
    match = _PLAIN_EVENT_RESPONSE.match(text)
    if match is not None:
        # The form clients send (ours, Webex's): nothing in it that the parser would
        # read differently, so it is read directly, at a fifth of the cost.
        event_id, status, reason = match.groups()
        return EventResponse(event_id, int(status), reason.strip())
    return event_response(parse_document(body, "EventResponse"))


# Strict: an exact prefix, no entity or character reference, no comment, ids and reasons
# from a small alphabet; anything else goes through the parser and its checks.
_PLAIN_EVENT_RESPONSE = re.compile(
    r'(?:<\?xml version="1\.0" encoding="UTF-8"\?>[ \r\n]*)?'
    rf'<EventResponse xmlns="{re.escape(NS)}">'
    rf"<eventID>([A-Za-z0-9._:@-]{{1,{_MAX_ID}}})</eventID>"
    rf"<statusCode>({'|'.join(map(str, EVENT_RESPONSE_CODES))})</statusCode>"
    r"<reason>([A-Za-z0-9 ._,-]*)</reason></EventResponse>[ \r\n]*\Z")
