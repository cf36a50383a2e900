"""BroadWorks list output: columns sized to their data, a blank line after the count."""
from __future__ import annotations

from xsp.cli import render


def test_columns_are_as_wide_as_their_widest_value_or_header_and_a_blank_line_ends_the_list():
    assert render.table(["Alias", "Owner"], [["a", "Internal Private Root"],
                                             ["webexclientissuing2023", "x"]]) == [
        "                   Alias                  Owner",
        "===============================================",
        "                       a  Internal Private Root",
        "  webexclientissuing2023                      x",
        "",
        "2 entries found.",
        "",
    ]


def test_an_empty_list_has_its_headers_underline_and_count():
    assert render.table(["Interface IP", "Protocol"], []) == [
        "  Interface IP  Protocol", "========================", "", "0 entry found.", ""]
