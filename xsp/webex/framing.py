"""Cutting an Xsi-Events stream into its documents, as a client reads it.

A streaming channel is one endless HTTP body holding one XML document after another,
each possibly preceded by an XML declaration. HTTP chunk boundaries are not document
boundaries once a proxy has been in the way, so documents are found by their content:
the root element's end tag, or a self-closing root. Xsi roots never nest an element of
their own name, which is what makes the search for the end tag sufficient.
"""
from __future__ import annotations

import codecs
import re

_START = re.compile(r"<([A-Za-z_][\w.:-]*)")
_MAX_BUFFER = 1024 * 1024


class FramingError(ValueError):
    pass


class DocumentSplitter:
    def __init__(self, max_buffer: int = _MAX_BUFFER) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buffer = ""
        self._max = max_buffer

    def feed(self, data: bytes) -> list[str]:
        """The documents completed by ``data``, without their XML declarations."""
        self._buffer += self._decoder.decode(data)
        found: list[str] = []
        while (document := self._take()) is not None:
            found.append(document)
        if len(self._buffer) > self._max:
            raise FramingError(f"no complete document in {len(self._buffer)} characters")
        return found

    def _take(self) -> str | None:
        buffer = self._buffer.lstrip()
        while buffer.startswith("<?"):
            end = buffer.find("?>")
            if end < 0:
                self._buffer = buffer
                return None
            buffer = buffer[end + 2:].lstrip()
        self._buffer = buffer
        if not buffer:
            return None
        match = _START.match(buffer)
        if match is None:
            if buffer != "<":  # a lone "<" is the start of a tag yet to come
                raise FramingError(f"stream does not continue with an XML element: {buffer[:40]!r}")
            return None
        tag_end = buffer.find(">", match.end())
        if tag_end < 0:
            return None
        if buffer[tag_end - 1] == "/":
            end = tag_end + 1
        else:
            close = buffer.find(f"</{match.group(1)}>", tag_end)
            if close < 0:
                return None
            end = close + len(match.group(1)) + 3
        document, self._buffer = buffer[:end], buffer[end:]
        return document
