"""Cutting a CTI interface stream into its XML documents, without doing any I/O.

The BroadWorks CTI interface sends one XML document per message, back to back on one
connection, with no length prefix. ``DocumentReader`` is fed bytes as they arrive and
returns the root element of every document they complete; it keeps no more than one
unfinished document.

Each document is read by its own expat parser, with namespaces resolved as ElementTree
names them (``{uri}local``). When the root element ends, the handler stops the parser
by raising, and the bytes after the root's end tag start the next document: so an
XML declaration, whitespace or line breaks may come between documents, as the
published framing allows, while a second root inside one document cannot. A DOCTYPE is
refused (no entity is ever declared or expanded), as is a document larger than
``max_document`` bytes; after a ``FramingError`` the reader accepts nothing more, since
the stream has lost its place.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import NamedTuple
from xml.parsers import expat

MAX_DOCUMENT = 256 * 1024
_WHITESPACE = b" \t\r\n"


class FramingError(ValueError):
    """The stream cannot be read on: ``str()`` is one line saying why."""


class Document(NamedTuple):
    root: ET.Element
    raw: bytes          # the document's bytes as they came, its declaration included


class _RootClosed(Exception):
    """Raised from expat's end handler to stop at the end of the root element."""


class DocumentReader:
    def __init__(self, max_document: int = MAX_DOCUMENT) -> None:
        if max_document < 64:
            raise ValueError("max_document must be at least 64 bytes")
        self.max_document = max_document
        self._buffer = bytearray()   # the bytes of the document being read
        self._parser: expat.XMLParserType | None = None
        self._builder = ET.TreeBuilder()
        self._depth = 0
        self._root_start = -1         # where, in _buffer, the root's start tag starts
        self._root_end = -1           # where expat reported the root's end
        self._broken: FramingError | None = None

    @property
    def in_document(self) -> bool:
        """True while part of a document has arrived and its end has not."""
        return bool(self._buffer)

    @property
    def error(self) -> FramingError | None:
        """Why the stream cannot be read on, once that is known."""
        return self._broken

    def feed(self, data: bytes) -> list[ET.Element]:
        """The root elements of the documents ``data`` completes (see ``documents``)."""
        return [document.root for document in self.documents(data)]

    def documents(self, data: bytes) -> list[Document]:
        """The documents that ``data`` completes, in order (possibly none).

        ``FramingError`` when the stream cannot be read on; documents completed before
        the fault in the same ``data`` are returned first, and the error is raised by
        the next call (and is ``error`` already).
        """
        if self._broken is not None:
            raise self._broken
        found: list[Document] = []
        pending = bytes(data)
        try:
            while pending:
                if not self._buffer:
                    pending = pending.lstrip(_WHITESPACE)
                    if not pending:
                        break
                    if pending[0] != 0x3C:  # <
                        self._fail("the stream does not continue with an XML document: "
                                   f"{pending[:40]!r}")
                    self._start()
                taken, pending = self._parse(pending)
                if taken is not None:
                    found.append(taken)
        except FramingError:
            if not found:
                raise
        return found

    def feed_eof(self) -> None:
        """The stream ended: ``FramingError`` if it stopped inside a document."""
        if self._buffer and self._broken is None:
            self._fail(f"the connection ended inside a document ({len(self._buffer)} bytes "
                       "of it received)")

    # --- inside ----------------------------------------------------------------------

    def _start(self) -> None:
        self._builder = ET.TreeBuilder()
        parser = expat.ParserCreate(namespace_separator="}")
        parser.buffer_text = True
        parser.ordered_attributes = False
        parser.StartElementHandler = self._start_element
        parser.EndElementHandler = self._end_element
        parser.CharacterDataHandler = self._builder.data
        parser.StartDoctypeDeclHandler = self._doctype
        parser.EntityDeclHandler = self._doctype
        self._parser = parser
        self._depth = 0
        self._root_start = -1
        self._root_end = -1

    def _parse(self, data: bytes) -> tuple[Document | None, bytes]:
        """Feed one document's parser; the finished root and the bytes after it."""
        assert self._parser is not None
        offset = len(self._buffer)
        room = self.max_document - offset
        chunk = data[:room + 1]
        self._buffer += chunk
        try:
            self._parser.Parse(chunk, False)
        except _RootClosed:
            end = self._document_end()
            document = Document(self._builder.close(), bytes(self._buffer[:end]))
            rest = bytes(self._buffer[end:]) + data[len(chunk):]
            self._buffer.clear()
            self._parser = None
            return document, rest
        except expat.ExpatError as exc:
            self._fail(f"not well-formed XML: {expat.ErrorString(exc.code)} "
                       f"(line {exc.lineno}, column {exc.offset})")
        except FramingError as exc:
            self._fail(str(exc))
        if len(self._buffer) > self.max_document:
            self._fail(f"a document is larger than {self.max_document} bytes")
        return None, b""

    def _document_end(self) -> int:
        # For an empty root (<x/>) expat reports its end just after the tag, for
        # <x>..</x> at the start of the end tag.
        start_tag_end = _tag_end(self._buffer, self._root_start)
        if start_tag_end == self._root_end and self._buffer[self._root_end - 2] == 0x2F:  # /
            return self._root_end
        end = _tag_end(self._buffer, self._root_end)
        if end < 0:  # cannot happen: expat reports an end tag once it is complete
            self._fail("the document's last tag does not end")
        return end

    def _start_element(self, name: str, attributes: dict[str, str]) -> None:
        if self._depth == 0:
            assert self._parser is not None
            self._root_start = self._parser.CurrentByteIndex
        self._depth += 1
        self._builder.start("{" + name if "}" in name else name,
                            {_qualified(k): v for k, v in attributes.items()} if attributes else {})

    def _end_element(self, name: str) -> None:
        self._builder.end("{" + name if "}" in name else name)
        self._depth -= 1
        if self._depth == 0:
            assert self._parser is not None
            self._root_end = self._parser.CurrentByteIndex
            raise _RootClosed()

    def _doctype(self, *_: object) -> None:
        raise FramingError("DOCTYPE and entity declarations are not accepted")

    def _fail(self, reason: str) -> None:
        self._broken = FramingError(reason)
        self._buffer.clear()
        self._parser = None
        raise self._broken


def _qualified(name: str) -> str:
    return "{" + name if "}" in name else name


def _tag_end(buffer: bytearray, start: int) -> int:
    """Where the tag starting at ``start`` ends (just after its ``>``), skipping quoted
    attribute values; -1 if it does not end in ``buffer``."""
    quote = 0
    for index in range(start, len(buffer)):
        byte = buffer[index]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in (0x22, 0x27):  # " '
            quote = byte
        elif byte == 0x3E:  # >
            return index + 1
    return -1
