"""A check of Xsi documents against the published Xsi schema (R23), written from it.

No third-party schema file is shipped or read: the types below restate, in Python, what
the BroadSoft Xsi schema set says about the documents an Xsi-Events server sends (and
the EventResponse a client sends): element names and their order, how often each may
occur, choices, ``xsi:type`` derivation of events and event data, and the simple types
(enumerations, non-empty tokens, integer ranges, lengths). Elements the emulator never
writes but the schema allows in a place (``endpoint``, ``redirections``,
``acdCallInfo``...) are declared there with their content left unchecked, so the order
around them is still checked.

    problems(text)  -> ["/Event/eventData/hookStatus: 'Up' is not one of On-Hook, Off-Hook"]
    kind(text)      -> "Event:SubscriptionEvent/CallReceivedEvent"

Rules of XML Schema applied: elements are qualified in the Xsi namespace; a complex type
allows no text but whitespace; an extension's content is its base's followed by its own;
an element whose declared type is abstract, or that carries ``xsi:type``, must name a
type derived from the declared one; token types collapse whitespace before their facets.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import cast

NS = "http://schema.broadsoft.com/xsi"
XSI_INSTANCE = "http://www.w3.org/2001/XMLSchema-instance"
_TYPE_ATTRIBUTE = f"{{{XSI_INSTANCE}}}type"
_INT = (-2**31, 2**31 - 1)
_LONG = (-2**63, 2**63 - 1)
UNBOUNDED = -1


# --- simple types ---------------------------------------------------------------------

@dataclass(frozen=True)
class Simple:
    """A simple type: ``check`` returns what is wrong with a value, or None."""

    name: str
    check: Callable[[str], str | None]
    attributes: frozenset[str] = frozenset()  # simple content with attributes (Address)


def _collapse(value: str) -> str:
    return " ".join(value.split())


def _string(min_length: int = 0, max_length: int | None = None, *,
            token: bool = False) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        text = _collapse(value) if token else value
        if len(text) < min_length:
            return "must not be empty"
        if max_length is not None and len(text) > max_length:
            return f"is longer than {max_length} characters"
        return None
    return check


def _integer(low: int, high: int) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        text = value.strip()
        if not re.fullmatch(r"[+-]?[0-9]+", text):
            return f"{value!r} is not an integer"
        if not low <= int(text) <= high:
            return f"{text} is outside {low}..{high}"
        return None
    return check


def _one_of(*values: str, token: bool = True) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        text = _collapse(value) if token else value
        return None if text in values else f"{value!r} is not one of {', '.join(values)}"
    return check


def _boolean(value: str) -> str | None:
    return None if value.strip() in ("true", "false", "1", "0") else f"{value!r} is not a boolean"


_SIMPLE = {s.name: s for s in (
    Simple("string", _string()),
    Simple("token", _string(token=True)),
    Simple("int", _integer(*_INT)),
    Simple("boolean", _boolean),
    Simple("NonEmptyString", _string(1)),
    Simple("NonEmptyToken", _string(1, token=True)),
    Simple("PositiveInt", _integer(1, _INT[1])),
    Simple("NonNegativeInt", _integer(0, _INT[1])),
    Simple("Timestamp", _integer(*_LONG)),  # milliseconds since the epoch
    Simple("Id256", _string(1, 256)),  # ChannelId, ChannelSetId, EventId, SubscriptionId
    Simple("ExternalApplicationId", _string(1, 256, token=True)),
    Simple("Address", _string(1, token=True), frozenset({"countryCode"})),
    Simple("ChannelTerminatedReason", _one_of(
        "DuplicateChannelSet", "UserDeleted", "NonResponsiveChannel", "ExplicitDelete",
        "Expired", "UnknownChannel")),
    Simple("EventResponseStatusCode", _one_of("200", "404", "481", "500", "400")),
    Simple("HookStatusType", _one_of("Off-Hook", "On-Hook")),
    Simple("Personality", _one_of("Originator", "Terminator", "Click-to-Dial")),
    Simple("CallState", _one_of("Alerting", "Active", "Held", "Remote Held", "Detached",
                                "Released", "Idle")),
    Simple("ReleasingParty", _one_of("localRelease", "remoteRelease")),
    Simple("CallType", _one_of("Group", "Enterprise", "Network", "Emergency", "Repair",
                               "City-Wide Centrex", "Private Dial Plan", "Unknown", "Error")),
    Simple("EntityType", _one_of("User", "Group", "ServiceProvider", "System")),
    Simple("EventPackage", _one_of(
        "Advanced Call", "Basic Call", "BroadWorks Anywhere", "Call Center Agent",
        "Call Center Agent Monitoring", "Call Center Configuration", "Call Center Monitoring",
        "Call Center Queue", "Call Forwarding Always", "Call Forwarding Always Secondary",
        "Call Forwarding Busy", "Call Forwarding No Answer", "Call Park", "Call Recording",
        "Call Transfer", "Call Waiting", "Collaborate Room", "CommPilot Express",
        "Do Not Disturb", "Flexible Seating Guest", "Hoteling Guest", "Last Number Redial",
        "Meet Me Conference", "Music On Hold", "N-Way Call", "Personal Assistant",
        "Push Notification Registration", "Remote Office", "Route Point Queue",
        "Security Classification", "Sequential Ring", "Silent Alerting",
        "Simultaneous Ring Personal", "Standard Call", "Third-Party Voice Mail Support",
        "Three-Way Call", "Voice Mail Message Summary", "Voice Messaging")),
)}
# Schema names that are these types under another name.
_ALIASES = {"ChannelId": "Id256", "ChannelSetId": "Id256", "EventId": "Id256",
            "SubscriptionId": "Id256", "UserId": "NonEmptyToken", "ClientAppId": "NonEmptyToken",
            "CallId": "NonEmptyToken", "ExternalTrackingId": "NonEmptyToken",
            "ChannelExpiration": "NonNegativeInt", "SubscriptionExpiration": "NonNegativeInt",
            "ClientSessionInfo": "NonEmptyToken"}


# --- complex types --------------------------------------------------------------------

@dataclass(frozen=True)
class El:
    """An element of a content model; ``type`` "any" leaves its content unchecked."""

    name: str
    type: str
    min: int = 1
    max: int = 1  # UNBOUNDED for no limit


@dataclass(frozen=True)
class Choice:
    """Exactly one of ``options``, each a sequence of particles (an empty match counts
    when an option can be empty)."""

    options: tuple[tuple[Particle, ...], ...]


Particle = El | Choice


@dataclass(frozen=True)
class Complex:
    name: str
    base: str | None = None
    content: tuple[Particle, ...] = ()
    abstract: bool = False
    any_content: bool = False


def _opt(name: str, type_: str) -> El:
    return El(name, type_, 0)


def _any(*names: str) -> tuple[El, ...]:
    return tuple(El(name, "any", 0) for name in names)


_CALL = (
    El("callId", "CallId"), El("extTrackingId", "ExternalTrackingId"),
    _opt("networkCallId", "NonEmptyToken"), El("personality", "Personality"),
    El("state", "CallState"), *_any("releaseCause"), _opt("releasingParty", "ReleasingParty"),
    El("remoteParty", "PartyInformation"), *_any("redirections", "redirect", "endpoint"),
    _opt("appearance", "PositiveInt"), _opt("allowAnswer", "EmptyContent"),
    _opt("allowRetrieve", "EmptyContent"), *_any("alternateAddressType"),
    _opt("huntGroupUserId", "UserId"), *_any("distinctiveRing"),
    _opt("diversionInhibited", "EmptyContent"), *_any("recallType"),
    El("startTime", "Timestamp"), _opt("answerTime", "Timestamp"), _opt("heldTime", "Timestamp"),
    _opt("totalHeldTime", "PositiveInt"), _opt("detachedTime", "Timestamp"),
    _opt("releaseTime", "Timestamp"), *_any("acdCallInfo", "agentEscalation",
                                            "acdOutgoingCallInfo"),
    _opt("groupCallParkLocationSelected", "EmptyContent"), _opt("recorded", "EmptyContent"),
    _opt("findMeFollowMeUserId", "UserId"), *_any("allowedRecordingControls", "recordingState"),
    _opt("executiveUserId", "UserId"), _opt("recallFromParty", "PartyInformation"),
    _opt("securityClassification", "NonEmptyToken"), _opt("clientSessionInfo", "ClientSessionInfo"),
)
_CALL_EVENTS = (
    "CallAnsweredEvent", "CallBargedInEvent", "CallClientSessionInfoUpdatedEvent",
    "CallSecurityClassificationUpdatedEvent", "CallCollectingEvent", "CallDetachedEvent",
    "CallForwardedEvent", "CallHeldEvent", "CallMonitoredEvent", "CallOriginatedEvent",
    "CallOriginatingEvent", "CallPickedUpEvent", "CallParkRetrievedEvent", "CallReceivedEvent",
    "CallRecordingStartingEvent", "CallRecordingStartedEvent", "CallRecordingPausedEvent",
    "CallRecordingResumedEvent", "CallReleasedEvent", "CallReleasingEvent",
    "CallRetrievedEvent", "CallTransferredEvent", "CallUpdatedEvent",
    "PlayMusicOnHoldFailureEvent",
)

_COMPLEX = {c.name: c for c in (
    Complex("EmptyContent"),
    Complex("anyType", any_content=True),
    Complex("Channel", content=(
        _opt("channelId", "ChannelId"), _opt("channelSetId", "ChannelSetId"),
        _opt("priority", "PositiveInt"), _opt("weight", "PositiveInt"),
        _opt("expires", "ChannelExpiration"), _opt("applicationId", "ExternalApplicationId"))),
    Complex("ChannelSet", content=(El("channel", "Channel", 1, UNBOUNDED),)),
    Complex("Subscription", content=(
        _opt("subscriptionId", "SubscriptionId"), _opt("sharedSubscriptionId", "SubscriptionId"),
        Choice(((_opt("subscriberId", "UserId"),), (_opt("clientId", "ClientAppId"),))),
        _opt("targetIdType", "EntityType"), _opt("targetGrpParentId", "NonEmptyString"),
        _opt("targetId", "string"), _opt("targetSubId", "string"),
        Choice(((_opt("event", "EventPackage"),), (_opt("eventPackageList", "any"),))),
        _opt("expires", "SubscriptionExpiration"),
        Choice(((_opt("httpContact", "any"),), (_opt("channelSetId", "ChannelSetId"),))),
        _opt("applicationId", "ExternalApplicationId"))),
    Complex("ErrorInfo", content=(
        _opt("summary", "NonEmptyString"), El("summaryEnglish", "NonEmptyString"),
        El("errorCode", "int"))),
    Complex("EventResponse", content=(
        El("eventID", "EventId"), El("statusCode", "EventResponseStatusCode"),
        El("reason", "NonEmptyString"))),
    Complex("BaseEvent", abstract=True),
    Complex("SubscriptionEvent", "BaseEvent", (
        El("eventID", "EventId"), El("sequenceNumber", "PositiveInt"),
        Choice(((El("userId", "UserId"),), (El("clientId", "ClientAppId"),))),
        El("externalApplicationId", "ExternalApplicationId"),
        El("subscriptionId", "SubscriptionId"), _opt("sharedSubscriptionId", "SubscriptionId"),
        Choice(((_opt("channelId", "ChannelId"),), (El("httpContact", "any"),))),
        _opt("targetId", "UserId"), _opt("targetSubId", "string"),
        El("eventData", "EventData"))),
    Complex("ChannelTerminatedEvent", "BaseEvent", (
        El("channelId", "ChannelId"), El("reason", "ChannelTerminatedReason"))),
    Complex("ErrorEvent", "BaseEvent", (El("errorCode", "int"), El("errorMessage", "string"))),
    Complex("EventData", abstract=True),
    Complex("ServiceEvent", "EventData", (_opt("unassigned", "EmptyContent"),), abstract=True),
    Complex("ActivatableServiceInfo", content=(_opt("active", "boolean"),)),
    Complex("DoNotDisturb", "ActivatableServiceInfo", (_opt("ringSplash", "boolean"),)),
    Complex("DoNotDisturbEvent", "ServiceEvent", (_opt("info", "DoNotDisturb"),)),
    Complex("SubscriptionTerminatedEvent", "EventData"),
    Complex("HookStatusEvent", "EventData", (El("hookStatus", "HookStatusType"),)),
    Complex("CallSubscriptionEvent", "EventData", (
        _opt("calls", "CallList"), *_any("conference"), El("hookStatus", "HookStatusType"))),
    Complex("CallSubscriptionResyncEvent", "CallSubscriptionEvent"),
    Complex("CallEvent", "EventData", (El("call", "Call"),), abstract=True),
    Complex("CallRecordingStoppedEvent", "CallEvent", (El("reason", "token"),)),
    *(Complex(name, "CallEvent") for name in _CALL_EVENTS),
    Complex("CallList", content=(El("call", "Call", 1, UNBOUNDED),)),
    Complex("Call", content=_CALL),
    Complex("PartyInformation", content=(
        _opt("name", "NonEmptyString"), _opt("address", "Address"), _opt("userId", "UserId"),
        _opt("userDN", "Address"), _opt("privacy", "EmptyContent"), _opt("callType", "CallType"))),
)}

# The global elements a document may have at its root, and their types.
ROOTS = {"Channel": "Channel", "ChannelHeartBeat": "anyType", "ChannelSet": "ChannelSet",
         "Subscription": "Subscription", "ErrorInfo": "ErrorInfo", "Event": "BaseEvent",
         "EventResponse": "EventResponse"}


# --- checking -------------------------------------------------------------------------

@dataclass
class _Report:
    scopes: dict[int, dict[str, str]]  # id(element) -> its in-scope prefix -> namespace
    problems: list[str] = field(default_factory=list)

    def add(self, path: str, text: str) -> None:
        self.problems.append(f"{path}: {text}")


def _parse(text: str | bytes) -> tuple[ET.Element, dict[int, dict[str, str]]]:
    """The root, and the namespace prefixes in scope at each element (``xsi:type``
    values are qualified names, and ElementTree alone forgets the prefixes)."""
    parser: ET.XMLPullParser = ET.XMLPullParser(events=("start-ns", "start", "end"))
    parser.feed(text)
    parser.close()
    scopes: dict[int, dict[str, str]] = {}
    stack: list[dict[str, str]] = [{}]
    pending: dict[str, str] = {}
    root: ET.Element | None = None
    for pair in parser.read_events():
        event, item = cast(tuple[str, object], pair)
        if event == "start-ns":
            prefix, uri = cast(tuple[str, str], item)
            pending[prefix] = uri
        elif event == "start":
            element = cast(ET.Element, item)
            scope = {**stack[-1], **pending}
            pending = {}
            stack.append(scope)
            scopes[id(element)] = scope
            root = element if root is None else root
        else:
            stack.pop()
    assert root is not None
    return root, scopes


def problems(text: str | bytes) -> list[str]:
    """Everything in the document the schema does not allow; empty when it is valid."""
    try:
        root, scopes = _parse(text)
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    report = _Report(scopes)
    namespace, name = _split(root.tag)
    if namespace != NS or name not in ROOTS:
        report.add(f"/{name}", f"not a global element of the Xsi schema ({namespace or 'no namespace'})")
    else:
        _element(root, ROOTS[name], f"/{name}", report)
    return report.problems


def kind(text: str | bytes) -> str:
    """The root and, for events, the types that say what the document is."""
    root, scopes = _parse(text)
    name = _split(root.tag)[1]
    if name != "Event":
        return name
    event_type = _type_name(root, scopes) or "?"
    data = root.find(f"{{{NS}}}eventData")
    return f"Event:{event_type}" + (
        f"/{_type_name(data, scopes) or '?'}" if data is not None else "")


def _element(element: ET.Element, declared: str, path: str, report: _Report) -> None:
    type_name = _ALIASES.get(declared, declared)
    actual = _type_name(element, report.scopes)
    if actual is not None:
        if actual not in _COMPLEX or not _derives(actual, type_name):
            report.add(path, f"xsi:type {actual} is not a type derived from {type_name}")
            return
        type_name = actual
    elif type_name in _COMPLEX and _COMPLEX[type_name].abstract:
        report.add(path, f"{type_name} is abstract: xsi:type must name the concrete type")
        return
    if type_name == "any":
        return
    simple = _SIMPLE.get(type_name)
    if simple is not None:
        _simple(element, simple, path, report)
        return
    complex_ = _COMPLEX[type_name]
    if complex_.any_content:
        return
    for attribute in element.attrib:
        if attribute != _TYPE_ATTRIBUTE:
            report.add(path, f"attribute {attribute} is not allowed")
    if (element.text or "").strip() or any((c.tail or "").strip() for c in element):
        report.add(path, f"{type_name} has element content only; text is not allowed")
    children = list(element)
    for child in children:
        namespace, name = _split(child.tag)
        if namespace != NS:
            report.add(f"{path}/{name}", f"must be in the namespace {NS}")
            return
    names = [_split(c.tag)[1] for c in children]
    match = next((m for m in _match(_content(type_name), names, 0, ()) if m[0] == len(names)),
                 None)
    if match is None:
        report.add(path, f"{type_name} content {names} does not match the schema's "
                         f"sequence {_describe(_content(type_name))}")
        return
    for child, declared_child in zip(children, match[1]):
        _element(child, declared_child, f"{path}/{_split(child.tag)[1]}", report)


def _simple(element: ET.Element, simple: Simple, path: str, report: _Report) -> None:
    if len(element):
        report.add(path, f"{simple.name} is a simple type: no child elements")
        return
    for attribute in element.attrib:
        if attribute not in simple.attributes and attribute != _TYPE_ATTRIBUTE:
            report.add(path, f"attribute {attribute} is not allowed")
    problem = simple.check(element.text or "")
    if problem is not None:
        report.add(path, f"{simple.name}: {problem}")


def _match(particles: tuple[Particle, ...], names: list[str], at: int,
           types: tuple[str, ...]) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Every way ``particles`` can match ``names`` from ``at``: (end, type of each child)."""
    if not particles:
        yield at, types
        return
    first, rest = particles[0], particles[1:]
    if isinstance(first, Choice):
        for option in first.options:
            for end, found in _match(option, names, at, types):
                yield from _match(rest, names, end, found)
        return
    count = 0
    while at + count < len(names) and names[at + count] == first.name \
            and (first.max == UNBOUNDED or count < first.max):
        count += 1
    for taken in range(count, first.min - 1, -1):  # greedy first, then fewer
        yield from _match(rest, names, at + taken, types + (first.type,) * taken)


def _content(type_name: str) -> tuple[Particle, ...]:
    complex_ = _COMPLEX[type_name]
    base = _content(complex_.base) if complex_.base else ()
    return base + complex_.content


def _derives(type_name: str, ancestor: str) -> bool:
    current: str | None = type_name
    while current is not None:
        if current == ancestor:
            return True
        current = _COMPLEX[current].base if current in _COMPLEX else None
    return False


def _type_name(element: ET.Element, scopes: dict[int, dict[str, str]]) -> str | None:
    """The local name of ``xsi:type``, when its prefix is bound to the Xsi namespace."""
    value = element.get(_TYPE_ATTRIBUTE)
    if value is None:
        return None
    prefix, _, local = value.strip().rpartition(":")
    if scopes.get(id(element), {}).get(prefix) == NS:
        return local
    return f"{value} (its prefix is not bound to {NS})"


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _describe(particles: tuple[Particle, ...]) -> str:
    parts = []
    for p in particles:
        if isinstance(p, Choice):
            parts.append("(" + " | ".join(_describe(o) for o in p.options) + ")")
        else:
            mark = "" if (p.min, p.max) == (1, 1) else "?" if (p.min, p.max) == (0, 1) else "*"
            parts.append(p.name + mark)
    return "[" + ", ".join(parts) + "]"
