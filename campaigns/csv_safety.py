"""CSV export that a spreadsheet cannot turn into code.

Contact lists come from outside.  A cell such as ``=HYPERLINK("http://x", "Click")``
is stored as the text it is, but a spreadsheet opening an exported file would run
it as a formula (CSV injection).  Every CSV the dialer writes (reject files,
exports, reports) goes through ``safe_csv_writer`` so such a cell is shown as
text instead: a leading apostrophe is the spreadsheet convention for "this is
text", and it is visible, so nobody mistakes the exported value for the stored one.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

__all__ = ["FORMULA_TRIGGERS", "SafeCsvWriter", "neutralize_cell", "safe_csv_writer"]

#: First characters that make Excel, LibreOffice or Google Sheets evaluate a cell.
#: Tab and carriage return are included because some applications drop them and
#: then see the next character.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")

# Full-width forms some spreadsheet applications fold to their ASCII twins.
_WIDE_TRIGGERS = ("\uff1d", "\uff0b", "\uff0d", "\uff20")


class _TextSink(Protocol):
    def write(self, s: str, /) -> Any: ...


def neutralize_cell(value: object) -> str:
    """The text of ``value`` as a spreadsheet will display it, never as a formula.

    Numbers are written as they are: a negative number is data, not a formula.
    Text that starts (possibly after spaces) with a formula trigger gets a
    leading apostrophe.
    """
    if value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    text = value if isinstance(value, str) else str(value)
    if not text:
        return text
    first = text[0]
    if first == " ":
        stripped = text.lstrip(" ")
        if not stripped:
            return text
        first = stripped[0]
    if first in FORMULA_TRIGGERS or first in _WIDE_TRIGGERS:
        return "'" + text
    return text


class SafeCsvWriter:
    """A ``csv.writer`` whose every cell passes through ``neutralize_cell``."""

    def __init__(self, sink: _TextSink, **fmtparams: Any) -> None:
        self._writer = csv.writer(sink, **fmtparams)

    @property
    def dialect(self) -> Any:
        return self._writer.dialect

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow([neutralize_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_csv_writer(sink: _TextSink, **fmtparams: Any) -> SafeCsvWriter:
    """A CSV writer for anything the dialer exports; takes ``csv.writer``'s options.

    Open ``sink`` with ``newline=""`` as for any csv writer.
    """
    return SafeCsvWriter(sink, **fmtparams)
