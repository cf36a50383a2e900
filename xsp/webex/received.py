"""What an Xsi-Events client receives, read into plain objects.

``read_document`` takes one document from a channel (HTTP stream or WebSocket message)
or one response body and says what it is. Events keep their raw XML beside the fields
read from them, so that a test can check either.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Union

from xsp.cti.documents import NS, XSI_INSTANCE
from xsp.ctiproto import messages as m

_TYPE = f"{{{XSI_INSTANCE}}}type"
CHANNEL_TERMINATED = "ChannelTerminatedEvent"


@dataclass(frozen=True)
class ChannelReply:
    channel_id: str
    expires: int


@dataclass(frozen=True)
class Heartbeat:
    pass


@dataclass(frozen=True)
class ErrorReply:
    summary: str
    error_code: int | None


@dataclass(frozen=True)
class XsiEvent:
    """A subscription event, or (``type == "ChannelTerminatedEvent"``) a channel's end.

    ``fields`` flattens the event data: ``hookStatus``, ``call.state``,
    ``call.remoteParty.address``... (the last value wins when an element repeats;
    ``calls`` counts the calls a CallSubscriptionEvent lists). ``duplicate`` is set by a client that has seen the eventID before.
    """

    type: str
    event_id: str | None
    sequence_number: int | None
    subscription_id: str | None
    channel_id: str | None
    target_id: str | None
    client_id: str | None
    user_id: str | None
    external_application_id: str | None
    fields: dict[str, str] = field(default_factory=dict)
    xml: str = ""
    duplicate: bool = False

    @property
    def terminates_channel(self) -> bool:
        return self.type == CHANNEL_TERMINATED

    @property
    def subject(self) -> str:
        """Whom the event is about: the target, else the subscriber."""
        return self.target_id or self.user_id or self.client_id or "-"

    def summary(self) -> str:
        """The few fields a person wants on one line."""
        return " ".join(f"{label}={self.fields[key]}" for key, label in _SUMMARY
                        if key in self.fields)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "eventID": self.event_id,
                "sequenceNumber": self.sequence_number, "subscriptionId": self.subscription_id,
                "channelId": self.channel_id, "targetId": self.target_id,
                "clientId": self.client_id, "userId": self.user_id,
                "externalApplicationId": self.external_application_id,
                "fields": dict(self.fields), "duplicate": self.duplicate}


_SUMMARY = (("hookStatus", "hookStatus"), ("call.callId", "callId"),
            ("call.personality", "personality"), ("call.state", "state"),
            ("call.remoteParty.address", "remote"), ("call.releasingParty", "released"),
            ("info.active", "dnd"), ("calls", "calls"), ("reason", "reason"))

Received = Union[ChannelReply, Heartbeat, ErrorReply, XsiEvent]


class UnexpectedDocument(ValueError):
    pass


def read_document(text: str | bytes) -> Received:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise UnexpectedDocument(f"not well-formed XML: {exc}") from None
    return read_root(root, text if isinstance(text, str) else text.decode())


def read_root(root: ET.Element, text: str) -> Received:
    """What a document already parsed is; ``text`` is its XML, kept by events."""
    name = _local(root.tag)
    if not root.tag.startswith(f"{{{NS}}}"):
        raise UnexpectedDocument(f"{name} is not in the Xsi namespace")
    if name == "ChannelHeartBeat":
        return Heartbeat()
    if name == "Channel":
        return ChannelReply(_text(root, "channelId") or "", int(_text(root, "expires") or 0))
    if name == "ErrorInfo":
        code = _text(root, "errorCode")
        return ErrorReply(_text(root, "summaryEnglish") or _text(root, "summary") or "",
                          int(code) if code and code.isdigit() else None)
    if name == "Event":
        return _event(root, text)
    raise UnexpectedDocument(f"unexpected document {name}")


def _event(root: ET.Element, xml: str) -> XsiEvent | ErrorReply:
    envelope_type = _local(root.get(_TYPE, ""))
    if envelope_type == "ErrorEvent":  # what the channel says of something written on it
        code = _text(root, "errorCode")
        return ErrorReply(_text(root, "errorMessage") or "",
                          int(code) if code and code.isdigit() else None)
    if envelope_type == CHANNEL_TERMINATED:
        reason = _text(root, "reason") or ""
        return XsiEvent(CHANNEL_TERMINATED, None, None, None, _text(root, "channelId"), None,
                        None, None, None, {"reason": reason}, xml)
    data = root.find(f"{{{NS}}}eventData")
    fields: dict[str, str] = {}
    if data is not None:
        _flatten(data, "", fields)
        calls = data.findall(f"{{{NS}}}calls/{{{NS}}}call")
        if calls:
            fields["calls"] = str(len(calls))
    sequence = _text(root, "sequenceNumber")
    return XsiEvent(
        type=_local(data.get(_TYPE, "")) if data is not None else envelope_type,
        event_id=_text(root, "eventID"),
        sequence_number=int(sequence) if sequence and sequence.isdigit() else None,
        subscription_id=_text(root, "subscriptionId"), channel_id=_text(root, "channelId"),
        target_id=_text(root, "targetId"), client_id=_text(root, "clientId"),
        user_id=_text(root, "userId"),
        external_application_id=_text(root, "externalApplicationId"),
        fields=fields, xml=xml)


def _flatten(element: ET.Element, prefix: str, into: dict[str, str]) -> None:
    for child in element:
        key = prefix + _local(child.tag)
        if len(child):
            _flatten(child, key + ".", into)
        else:
            into[key] = (child.text or "").strip()


def _local(name: str) -> str:
    """``{ns}tag`` or ``prefix:type`` without its qualifier."""
    return name.rpartition("}")[2].rpartition(":")[2]


def _text(element: ET.Element, tag: str) -> str | None:
    child = element.find(f"{{{NS}}}{tag}")
    return None if child is None or child.text is None else child.text.strip()


def event_of(message: m.Event) -> Received:
    """What a CTI interface ``event`` message carries, read from its payload as parsed
    (no second parse); ``UnexpectedDocument`` when it carries none."""
    if message.element is None:
        raise UnexpectedDocument(f"event {message.request_id} has an empty payload")
    return read_root(message.element, message.document)
