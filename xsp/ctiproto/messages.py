"""The messages of the BroadWorks CTI interface (XspXMLInterface) and their XML.

Six messages travel on a CTI connection, each one XML document whose root is in the
XspXMLInterface namespace with unqualified children and a ``version`` attribute:

  request            client -> server: requestId, sessionId, a credential, the operation
  response           server -> client: requestId, sessionId, statusCode, reason, payload
  event              server -> client: requestId, payload holding one xsi:Event
  eventResponse      client -> server: requestId, payload holding one xsi:EventResponse
  keepalive          client -> server: requestId, period (seconds)
  keepaliveResponse  server -> client: requestId

A request's operation is a global element of the CTI namespace named after it (for
example ``AddChannelRequest``) standing in for ``xsp:payload``; its children ``uri``,
``method``, ``version``, ``params`` and ``payload`` are unqualified and ``payload``
holds the Xsi document of the call (or nothing). Reading is lenient where deployed
clients are known to differ: an ``xsp:payload`` wrapper around the operation, a missing
``version``, children qualified in some namespace, and ``emptyPayload`` for an empty
payload. Both sides use this module: the server reads requests and writes responses and
events, the Webex-like client the other way round.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Union
from xml.sax.saxutils import escape, quoteattr

XSP_NS = "http://schema.broadsoft.com/XspXMLInterface"
CTI_NS = "http://schema.broadsoft.com/CTI"
XSI_NS = "http://schema.broadsoft.com/xsi"
VERSION = "17.0"  # the schema's default for the version attribute
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
MAX_ID = 256


class MessageError(ValueError):
    """A document that is not a message we can act on.

    ``status`` is what a response says (400 malformed, 404 unknown operation...);
    ``request_id`` and ``session_id`` are echoed when the document had them.
    """

    def __init__(self, status: int, summary: str, request_id: str = "",
                 session_id: str = "") -> None:
        super().__init__(summary)
        self.status = status
        self.summary = summary
        self.request_id = request_id
        self.session_id = session_id


@dataclass(frozen=True)
class Request:
    request_id: str
    session_id: str
    operation: str                     # the operation element's local name
    uri: str | None = None
    method: str | None = None
    version: str | None = None          # the application version of the call
    params: dict[str, str] = field(default_factory=dict)
    body: str = ""                      # the Xsi document of the call, or ""
    credential: str | None = None       # which credential element came: credentials...
    protocol_version: str = VERSION


class _Carrier:
    """A message with a payload: ``payload`` as written, ``element`` as read."""

    payload: str
    element: ET.Element | None

    @property
    def document(self) -> str:
        """The payload's document as text: as written, or as read (written out only
        when asked, since most readers want the element)."""
        return self.payload or _as_text(self.element)


@dataclass(frozen=True)
class Response(_Carrier):
    request_id: str
    session_id: str
    status_code: int
    reason: str
    payload: str = ""                   # an Xsi document (no declaration) to write, or ""
    protocol_version: str = VERSION
    element: ET.Element | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Event(_Carrier):
    request_id: str
    payload: str                        # one xsi:Event document (no declaration)
    protocol_version: str = VERSION
    # The payload's root when read from the wire, so a reader need not parse it again.
    element: ET.Element | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class EventResponse(_Carrier):
    request_id: str
    payload: str                        # one xsi:EventResponse document, or ""
    protocol_version: str = VERSION
    element: ET.Element | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Keepalive:
    request_id: str
    period: int | None = None
    protocol_version: str = VERSION


@dataclass(frozen=True)
class KeepaliveResponse:
    request_id: str
    protocol_version: str = VERSION


Message = Union[Request, Response, Event, EventResponse, Keepalive, KeepaliveResponse]
ROOTS = ("request", "response", "event", "eventResponse", "keepalive", "keepaliveResponse")


# --- writing --------------------------------------------------------------------------

def render(message: Message) -> bytes:
    """One message as the bytes of one document, on one line after its declaration."""
    if isinstance(message, Request):
        inner = (_leaf("requestId", message.request_id) + _leaf("sessionId", message.session_id)
                 + (_leaf(message.credential, "") if message.credential else "")
                 + _operation(message))
        return _envelope("request", inner, message.protocol_version)
    if isinstance(message, Response):
        inner = (_leaf("requestId", message.request_id) + _leaf("sessionId", message.session_id)
                 + _leaf("statusCode", message.status_code) + _leaf("reason", message.reason)
                 + _payload(message.payload))
        return _envelope("response", inner, message.protocol_version)
    if isinstance(message, (Event, EventResponse)):
        name = "event" if isinstance(message, Event) else "eventResponse"
        inner = _leaf("requestId", message.request_id) + _payload(message.payload)
        return _envelope(name, inner, message.protocol_version)
    if isinstance(message, Keepalive):
        inner = _leaf("requestId", message.request_id)
        if message.period is not None:
            inner += _leaf("period", message.period)
        return _envelope("keepalive", inner, message.protocol_version)
    return _envelope("keepaliveResponse", _leaf("requestId", message.request_id),
                     message.protocol_version)


# The head of an ``event`` envelope, by protocol version: a connection's version rarely
# changes. Bounded: a client chooses the version it sends.
_EVENT_HEADS: dict[str, str] = {}
_MAX_EVENT_HEADS = 8


def render_event(request_id: str, payload: str, version: str = VERSION) -> bytes:
    """``render(Event(request_id, payload, version))``, the same bytes, written directly:
    the envelope's head is made once per version, the payload taken as it is when it has
    no declaration (the hub's documents have none)."""
    head = _EVENT_HEADS.get(version)
    if head is None:
        head = (f"{DECLARATION}<xsp:event version={quoteattr(version)} "
                f"xmlns:xsp={quoteattr(XSP_NS)}>")
        if len(_EVENT_HEADS) < _MAX_EVENT_HEADS:
            _EVENT_HEADS[version] = head
    body = payload if payload[:1] == "<" and not payload.startswith("<?xml") \
        else without_declaration(payload)
    rid = escape(request_id)
    return (f"{head}{f'<requestId>{rid}</requestId>' if rid else '<requestId/>'}"
            f"{f'<xsp:payload>{body}</xsp:payload>' if body else '<xsp:payload/>'}"
            "</xsp:event>\n").encode()


def without_declaration(document: str) -> str:
    """An Xsi document ready to stand inside a payload."""
    text = document.lstrip()
    if text.startswith("<?xml"):
        text = text[text.index("?>") + 2:].lstrip()
    return text


def _envelope(name: str, inner: str, version: str) -> bytes:
    return (f"{DECLARATION}<xsp:{name} version={quoteattr(version)} "
            f"xmlns:xsp={quoteattr(XSP_NS)}>{inner}</xsp:{name}>\n").encode()


def _leaf(tag: str, value: object) -> str:
    text = escape(str(value))
    return f"<{tag}>{text}</{tag}>" if text else f"<{tag}/>"


def _payload(document: str) -> str:
    body = without_declaration(document) if document else ""
    return f"<xsp:payload>{body}</xsp:payload>" if body else "<xsp:payload/>"


def _operation(request: Request) -> str:
    parts = ""
    if request.uri is not None:
        parts += _leaf("uri", request.uri)
    if request.method is not None:
        parts += _leaf("method", request.method)
    if request.version is not None:
        parts += _leaf("version", request.version)
    parts += "<params>" + "".join(_leaf(k, v) for k, v in request.params.items()) + "</params>"
    body = without_declaration(request.body) if request.body else ""
    parts += f"<payload>{body}</payload>" if body else "<payload/>"
    return (f"<cti:{request.operation} xmlns:cti={quoteattr(CTI_NS)}>{parts}"
            f"</cti:{request.operation}>")


# --- reading --------------------------------------------------------------------------

def parse(root: ET.Element, raw: bytes = b"") -> Message:
    """The message a document's root element is, or ``MessageError``. ``raw``, the
    document's bytes, lets a payload be had as the sender wrote it."""
    namespace, name = split(root.tag)
    request_id = _text(root, "requestId") or ""
    session_id = _text(root, "sessionId") or ""
    if name not in ROOTS:
        raise MessageError(400, f"{name} is not a CTI interface message; expected one of "
                           + ", ".join(ROOTS), request_id, session_id)
    if namespace not in (XSP_NS, ""):
        raise MessageError(400, f"{name} must be in the namespace {XSP_NS}, got {namespace}",
                           request_id, session_id)
    version = root.get("version") or VERSION
    if not request_id:
        raise MessageError(400, f"{name}: requestId is required", "", session_id)
    if len(request_id) > MAX_ID or len(session_id) > MAX_ID:
        raise MessageError(400, f"{name}: requestId and sessionId are at most {MAX_ID} "
                           "characters", request_id[:MAX_ID], session_id[:MAX_ID])
    if name == "request":
        return _request(root, request_id, session_id, version)
    if name == "response":
        code = _text(root, "statusCode") or ""
        return Response(request_id, session_id, int(code) if code.isdigit() else 0,
                        _text(root, "reason") or "", _raw_payload(raw), version,
                        _payload_element(root))
    if name == "event":
        return Event(request_id, _raw_payload(raw), version, _payload_element(root))
    if name == "eventResponse":
        return EventResponse(request_id, _raw_payload(raw), version, _payload_element(root))
    if name == "keepalive":
        period = _text(root, "period")
        if period is not None and (not period.isdigit() or int(period) < 1):
            raise MessageError(400, f"keepalive: period must be a whole number of seconds "
                               f"of at least 1, got {period!r}", request_id, session_id)
        return Keepalive(request_id, int(period) if period else None, version)
    return KeepaliveResponse(request_id, version)


def _request(root: ET.Element, request_id: str, session_id: str, version: str) -> Request:
    if not session_id:
        raise MessageError(400, "request: sessionId is required", request_id)
    credential = next((split(c.tag)[1] for c in root
                       if split(c.tag)[1] in ("credentials", "ssoCredentials", "authorization")),
                      None)
    operation = _operation_element(root)
    if operation is None:
        raise MessageError(400, "request: no operation (a CTI element such as "
                           "AddChannelRequest) after the credentials", request_id, session_id)
    namespace, name = split(operation.tag)
    if namespace not in (CTI_NS, ""):
        raise MessageError(400, f"{name} must be in the namespace {CTI_NS}, got {namespace}",
                           request_id, session_id)
    params_element = _child(operation, "params")
    params = ({split(p.tag)[1]: (p.text or "").strip() for p in params_element}
              if params_element is not None else {})
    body_element = _child(operation, "payload")
    body = ""
    if body_element is not None and len(body_element):
        body = _as_text(body_element[0])
    return Request(request_id, session_id, name, _text(operation, "uri"),
                   _text(operation, "method"), _text(operation, "version"), params, body,
                   credential, version)


def _operation_element(root: ET.Element) -> ET.Element | None:
    """The operation: the element after the credential, or inside an xsp:payload."""
    for child in root:
        namespace, name = split(child.tag)
        if name in ("requestId", "sessionId", "credentials", "ssoCredentials", "authorization"):
            continue
        if name == "payload" and namespace in (XSP_NS, ""):
            return child[0] if len(child) else None
        return child
    return None


def _payload_element(root: ET.Element) -> ET.Element | None:
    """The document inside a response's or an event's payload, or None."""
    for child in root:
        namespace, name = split(child.tag)
        if name in ("payload", "emptyPayload") and namespace in (XSP_NS, ""):
            return child[0] if len(child) else None
    return None


_PAYLOAD_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?payload(?:\s[^>]*)?>")
_PAYLOAD_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?payload\s*>\s*</[^>]+>\s*$")


def _raw_payload(raw: bytes) -> str:
    """The payload's document as the sender wrote it, when that can be cut out of the
    raw message plainly (the payload last, its document declaring its namespaces);
    else "" and ``document`` writes it out from the element."""
    if not raw:
        return ""
    start = _PAYLOAD_START.search(raw)
    end = _PAYLOAD_END.search(raw)
    if start is None or end is None or end.start() < start.end():
        return ""
    inner = raw[start.end():end.start()].strip()
    first_tag = inner[:inner.find(b">") + 1]
    if not inner.startswith(b"<") or b"xmlns" not in first_tag or b"<!" in inner:
        return ""
    try:
        return inner.decode()
    except UnicodeDecodeError:
        return ""


def _as_text(element: ET.Element | None) -> str:
    """A payload's document as text, written the way the Xsi interface writes it:
    ``xsi:``/``xsi1:`` prefixes where an ``xsi1:type`` names an ``xsi:`` type (events),
    else the default namespace. ElementTree's own writer would invent ``ns0:`` prefixes
    and leave the ``xsi:`` inside such attribute values unbound."""
    if element is None:
        return ""
    typed = any(_TYPE in e.attrib for e in element.iter())
    prefixes = {XSI_NS: "xsi", XSI_INSTANCE: "xsi1"} if typed else {XSI_NS: ""}
    declared: dict[str, str] = {}
    out: list[str] = []
    _write(element, prefixes, declared, out)
    return "".join(out)


_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
XSI_INSTANCE = "http://www.w3.org/2001/XMLSchema-instance"


def _write(element: ET.Element, prefixes: dict[str, str], declared: dict[str, str],
           out: list[str]) -> None:
    namespace, local = split(element.tag)
    declarations: list[str] = []

    def name_of(space: str, name: str) -> str:
        if not space:
            return name
        prefix = prefixes.setdefault(space, f"ns{len(prefixes)}")
        if declared.get(prefix) != space:
            declared[prefix] = space
            declarations.append(f" xmlns{':' + prefix if prefix else ''}={quoteattr(space)}")
        return f"{prefix}:{name}" if prefix else name

    if not namespace and declared.get("") not in (None, ""):
        declared[""] = ""
        declarations.append(' xmlns=""')
    tag = name_of(namespace, local)
    attributes = "".join(f" {name_of(*split(key)) if key.startswith('{') else key}={quoteattr(value)}"
                         for key, value in element.attrib.items())
    if XSI_INSTANCE in prefixes and declared.get("xsi1") is None and prefixes.get(XSI_NS):
        name_of(XSI_INSTANCE, "type")  # declare both prefixes on the root of an event
    out.append(f"<{tag}{''.join(declarations)}{attributes}")
    if len(element) == 0 and not element.text:
        out.append("/>")
    else:
        out.append(">" + escape(element.text or ""))
        for child in element:
            _write(child, prefixes, dict(declared), out)
            out.append(escape(child.tail or ""))
        out.append(f"</{tag}>")


def split(tag: str) -> tuple[str, str]:
    """``{uri}local`` as (uri, local); ("", local) for an unqualified name."""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _child(element: ET.Element, name: str) -> ET.Element | None:
    """An unqualified child, or one qualified in any namespace (lenient)."""
    return next((c for c in element if split(c.tag)[1] == name), None)


# The ``eventResponse`` clients send (ours, and the form the protocol notes show), strict:
# an exact envelope, ids and reasons from a small alphabet, no entity, comment or other
# namespace prefix; it reads the same as through the parser. Anything else goes through
# the parser and its checks.
_PLAIN_EVENT_RESPONSE = re.compile(
    rb'[ \t\r\n]*(?:<\?xml version="1\.0" encoding="UTF-8"\?>)?'
    rb'<xsp:eventResponse version="([0-9]{1,4}(?:\.[0-9]{1,4}){0,3})" xmlns:xsp="'
    + re.escape(XSP_NS.encode()) + rb'">'
    rb"<requestId>([A-Za-z0-9._:@-]{1,%d})</requestId>" % MAX_ID
    + rb'<xsp:payload>(<EventResponse xmlns="' + re.escape(XSI_NS.encode()) + rb'">'
    rb"<eventID>[A-Za-z0-9._:@-]{1,%d}</eventID>" % MAX_ID
    + rb"<statusCode>[0-9]{1,3}</statusCode><reason>[A-Za-z0-9 ._,-]{0,256}</reason>"
    rb"</EventResponse>)</xsp:payload></xsp:eventResponse>")


def plain_event_responses(data: bytes, max_document: int) -> tuple[list[EventResponse], bytes]:
    """The plain ``eventResponse`` documents at the start of ``data`` (read without the
    XML parser: the same messages as ``parse`` gives, with the payload as written) and
    the bytes after them, which the stream's reader takes as usual."""
    found: list[EventResponse] = []
    start = 0
    while True:
        match = _PLAIN_EVENT_RESPONSE.match(data, start)
        if match is None or match.end() - start > max_document:
            return found, data[start:] if start else data
        version, request_id, payload = match.groups()
        found.append(EventResponse(request_id.decode("ascii"), payload.decode("ascii"),
                                   version.decode("ascii")))
        start = match.end()


def _text(element: ET.Element, name: str) -> str | None:
    child = _child(element, name)
    return None if child is None or child.text is None else child.text.strip() or None
