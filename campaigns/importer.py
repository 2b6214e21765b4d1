"""Streaming import of a contact list from CSV.

Lists come from spreadsheets, CRMs and vendors, and some are broken.  The import
must (1) never hold the file in memory, since a list may have millions of rows;
(2) land the good rows even when bad ones are present; (3) account for every row:
imported, or rejected with its spreadsheet row number and a reason, so the
people who own the list can fix it; and (4) never let one malformed row (a quote
left open, a 10 MB line, stray bytes) swallow the rows after it.

How the file is read
--------------------
The file is read as bytes, one physical line at a time (at most
``MAX_LINE_BYTES``), decoded line by line and fed to ``csv.reader``.  Decoding
per line is exact for UTF-8 and every single-byte encoding, because the newline
byte never occurs inside one of their characters, and it lets a line that does
not decode fail on its own instead of aborting the import.

Encoding: UTF-8, with or without a byte-order mark, unless ``encoding`` says
otherwise (``cp1252`` for lists saved by Excel on Windows, ``latin-1``...).
Only ASCII-compatible encodings are accepted; UTF-16 files (Excel's "Unicode
text") are refused with a message saying how to re-save them.  A row whose bytes
are not valid in the chosen encoding is rejected as ``encoding_error``; the reject
file shows the bad bytes as ``\\xe9`` escapes.  Re-importing the file with the
right encoding lands those rows and skips the others as duplicates.

Row numbers are spreadsheet row numbers: the header is row 1, the first contact
row 2, and a quoted field spanning lines is still one row (records are counted,
not lines).  Details also name the physical line of the file.

A quote left open would make ``csv.reader`` read the rest of the file as one
field.  A record is therefore allowed at most ``MAX_RECORD_LINES`` physical
lines and ``MAX_RECORD_BYTES`` bytes.  A record spanning several lines is
suspect when it fails (too long, wrong number of cells, end of file inside
the quotes), when a line break sits in a name, phone or other mapped field
(only free-text custom columns such as notes hold line breaks), or when a line
inside its quotes would be a complete row with a valid phone on its own.  Then
only its first line is rejected, as ``unterminated_quote``, and the lines after
it are read again as rows of their own, so no row is ever swallowed.  The csv
module's own field limit (128 KiB by default) is left alone: it is process-wide
state, and longer fields are rejected as ``field_too_long`` anyway.

Duplicates are found without a query per row: the campaign's numbers are loaded
once as integers into a sorted array (8 bytes each), and this file's numbers
go to a set that is merged into a second sorted array every 262,144 numbers,
so a million-row list needs some 30 MB for deduplication.  Only a duplicate
inside the file costs a query, to name the row it repeats.

Writing: rows are inserted ``batch_size`` at a time (SQLAlchemy Core
executemany; on SQLite straight through the driver), and whole batches are
committed together with the list's counters.

Resuming: an import given an ``import_key`` (background jobs give the file's
digest and the options) records, with each commit, the last row whose outcome is
committed (``contact_lists.rows_through``).  Run again with the same key, it
finds that list and reads the file from the start: the rows through that row
go through every check again, so deduplication and the reject file are rebuilt
exactly, but are not written again; the rows after it land as usual.  A re-run
after a crash therefore ends with the same lists, contacts, phones, rejects and
counters as one uninterrupted run, and a re-run of a finished import writes
nothing.

Reject reasons (the ``reason`` column of the reject file)
----------------------------------------------------------
``missing_phone``          no phone in any phone column
``bad_number``             no phone of the row is a dialable number (the detail
                           gives phonenumbers' verdict: too_short, invalid_number...)
``duplicate_in_list``      every phone of the row appeared on an earlier row of this file
``duplicate_in_campaign``  every phone of the row is already in the campaign
``ragged_row``             more or fewer cells than the header (extra empty cells are fine)
``field_too_long``         a cell longer than its database column, a line longer
                           than ``MAX_LINE_BYTES``, or a field over the csv module's limit
``bad_priority``           the priority is not a whole number
``bad_timezone``           the time zone is not a zone name such as America/Chicago
                           (EST and other fixed offsets are refused: they ignore summer time)
``encoding_error``         bytes that are not valid in the file's encoding
``nul_byte``               a NUL byte (binary data, or a UTF-16 file read as UTF-8)
``unterminated_quote``     a quote opened on this row is not closed where it should be
                           (see above); the lines after it are read as rows of their own
``bad_quoting``            text after a closing quote, or a stray carriage return

One more code appears in the reject file without the row being rejected:
``phone_dropped``: the contact was imported, but one of its other phones was not
(bad number or duplicate); the detail says which.

Blank rows are skipped and counted (``blank_rows``); they are neither imported
nor rejected.  So ``imported + rejected == rows_read`` always holds.

Cells are stored as the text they are, formulas included; the reject file, like
every CSV the dialer writes, neutralizes them (``campaigns.csv_safety``).
"""

from __future__ import annotations

import codecs
import csv
import functools
import heapq
import io
import os
import re
import time
import zoneinfo
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns import dnc_store
from campaigns.csv_safety import safe_csv_writer
from campaigns.models import Campaign, Contact, ContactList, ContactPhone, ContactStatus
from compliance.phones import PhoneError, PhoneInfo, analyze_phone, is_known_region

__all__ = [
    "FIELDS",
    "MAX_LINE_BYTES",
    "MAX_RECORD_BYTES",
    "MAX_RECORD_LINES",
    "REASONS",
    "ImportReport",
    "ListImportError",
    "auto_field",
    "import_contacts",
    "parse_mapping",
]

#: A physical line longer than this is rejected unread (the "10 MB line").
MAX_LINE_BYTES = 1 << 20
#: A quoted field may span lines; beyond these limits the quote is taken as left open.
MAX_RECORD_LINES = 100
MAX_RECORD_BYTES = 1 << 20
#: Excel's own limit for one cell; longer custom cells are rejected, and cells
#: shown in the reject file are cut to it.
MAX_CELL_CHARS = 32_767

REASONS: dict[str, str] = {
    "missing_phone": "no phone number in any phone column",
    "bad_number": "no phone of the row is a dialable number",
    "duplicate_in_list": "every phone of the row appears on an earlier row of the file",
    "duplicate_in_campaign": "every phone of the row is already in the campaign",
    "ragged_row": "more or fewer cells than the header",
    "field_too_long": "a cell or line longer than allowed",
    "bad_priority": "priority is not a whole number",
    "bad_timezone": "time zone is not an IANA name such as America/Chicago",
    "encoding_error": "bytes that are not valid in the file's encoding",
    "nul_byte": "a NUL byte in the row",
    "unterminated_quote": "a quote opened on this row is never closed where it should be",
    "bad_quoting": "text after a closing quote, or a stray carriage return",
    "phone_dropped": "imported, but one of the contact's phones was not (see detail)",
}

#: Fields a column may map to; "phone" may be taken by several columns
#: (or named phone2, phone3... to fix their order), "custom" keeps a column in
#: custom_fields under its header (or "custom:KEY"), "ignore" drops it.
FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "state",
    "postal_code",
    "timezone",
    "priority",
    "external_id",
    "custom",
    "ignore",
)

_SCALAR_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "state",
    "postal_code",
    "timezone",
    "priority",
    "external_id",
)


def _build_aliases(table: dict[str, str]) -> dict[str, str]:
    return {name: field_name for field_name, names in table.items() for name in names.split()}


_ALIASES = _build_aliases(
    {
        "first_name": "firstname first fname givenname forename",
        "last_name": "lastname last lname surname familyname",
        "email": "email emailaddress mail",
        "phone": (
            "phone phones phonenumber phoneno telephone telephonenumber tel mobile mobilephone mobilenumber "
            "cell cellphone cellnumber homephone homenumber workphone worknumber businessphone officephone "
            "primaryphone altphone alternatephone alternativephone otherphone contactnumber landline "
            "dayphone eveningphone directdial"
        ),
        "state": "state st province stateprovince stateorprovince statecode",
        "postal_code": "zip zipcode postalcode postcode zip5 postal zippostalcode zippostal",
        "timezone": "timezone tz timezonename",
        "priority": "priority",
        "external_id": ("id externalid customerid accountid leadid contactid crmid recordid clientid reference ref"),
    }
)

_NUMBERED_PHONE = re.compile(r"(?:phone|tel|telephone|mobile|cell|phonenumber)(\d{1,2})")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

_US_CA_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR",
    "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
    "washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
    "puerto rico": "PR", "guam": "GU", "us virgin islands": "VI", "american samoa": "AS",
    "northern mariana islands": "MP",
    "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
    "newfoundland and labrador": "NL", "nova scotia": "NS", "ontario": "ON",
    "prince edward island": "PE", "quebec": "QC", "saskatchewan": "SK",
    "northwest territories": "NT", "nunavut": "NU", "yukon": "YT",
}  # fmt: skip

# Line flags gathered while reading a record.
_ENC = 1
_NUL = 2

_ERRORS_KEPT = 20
_SEEN_SET_MAX = 1 << 18
_PROGRESS_EVERY = 1 << 18


class ListImportError(Exception):
    """The file cannot be imported at all (no header, not CSV, unknown column...).

    ``row`` names the spreadsheet row at fault when there is one.  Problems with
    single rows are never raised: those rows are rejected and reported.
    """

    def __init__(self, message: str, *, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


@dataclass
class ImportReport:
    """What an import did, row by row accounted: imported + rejected == rows_read."""

    list_id: int | None
    campaign_id: int
    rows_read: int = 0
    imported: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    blank_rows: int = 0
    phones_imported: int = 0
    phones_dropped_by_reason: dict[str, int] = field(default_factory=dict)
    phones_without_timezone: int = 0
    bytes_read: int = 0
    elapsed_s: float = 0.0
    encoding: str = "utf-8"
    columns: dict[str, str] = field(default_factory=dict)
    rejects_file: str | None = None
    #: The first problems, as "row N: reason: detail", for people reading a summary.
    errors: list[str] = field(default_factory=list)
    #: Observations about the file as a whole (mapping choices, BOM, delimiter).
    notes: list[str] = field(default_factory=list)
    #: Imported phones on each do-not-call list ("company", "campaign", and "national" when a
    #: registry copy is loaded).  They are imported all the same: the dial gate blocks them.
    on_dnc_by_list: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- mapping


def _norm_header(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


def auto_field(header: str) -> str | None:
    """The field a column named ``header`` maps to without being told, or None."""
    key = _norm_header(header)
    if key in _ALIASES:
        return _ALIASES[key]
    if _NUMBERED_PHONE.fullmatch(key):
        return "phone"
    return None


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["Cell=phone", "Ref=external_id"]`` -> a mapping; splits on the last "="."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, target = pair.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            raise ListImportError(f"mapping {pair!r} is not of the form COLUMN=FIELD")
        mapping[column.strip()] = target.strip()
    return mapping


@dataclass(frozen=True)
class _Target:
    kind: str  # a scalar field name, "phone", "custom" or "ignore"
    order: int = 1  # phones: 1 for "phone", N for "phoneN"
    key: str | None = None  # custom: the key in custom_fields


def _parse_target(text: str) -> _Target | None:
    raw = text.strip()
    low = raw.lower()
    if low.startswith("custom:") and raw[7:].strip():
        return _Target("custom", key=raw[7:].strip())
    norm = low.replace(" ", "_").replace("-", "_")
    if norm in ("ignore", "skip"):
        return _Target("ignore")
    if norm == "custom":
        return _Target("custom")
    match = re.fullmatch(r"phone_?(\d{1,2})", norm)
    if match:
        return _Target("phone", order=int(match.group(1)))
    if norm in _SCALAR_FIELDS or norm == "phone":
        return _Target(norm)
    alias = auto_field(raw)
    return _Target(alias) if alias else None


@dataclass
class _Layout:
    ncols: int
    header: list[str]
    scalars: list[tuple[str, int]]  # (field, column)
    phones: list[tuple[int, str]]  # (column, label), in phone order
    customs: list[tuple[str, int]]  # (key, column)
    columns: dict[str, str]
    notes: list[str]


def _layout(header: list[str], mapping: dict[str, str] | None) -> _Layout:
    names = [h.strip() for h in header]
    shown = [name or f"column_{i + 1}" for i, name in enumerate(names)]
    targets: list[_Target] = []
    explicit: set[int] = set()
    notes: list[str] = []

    given: dict[int, _Target] = {}
    for column, target_text in (mapping or {}).items():
        target = _parse_target(target_text)
        if target is None:
            raise ListImportError(
                f"cannot map column {column!r} to {target_text!r}: the fields are "
                f"{', '.join(FIELDS)} (or phone2, phone3..., custom:KEY)"
            )
        wanted = column.strip()
        hits = [i for i, name in enumerate(names) if name == wanted]
        if not hits:
            hits = [i for i, name in enumerate(names) if _norm_header(name) == _norm_header(wanted)]
        if not hits:
            raise ListImportError(
                f"the mapping names column {column!r}, which is not in the header (row 1): "
                + ", ".join(repr(n) for n in names)
            )
        for i in hits:
            given[i] = target
            explicit.add(i)
    for i, name in enumerate(names):
        auto = auto_field(name) if name else None
        targets.append(given.get(i) or _Target(auto or "custom"))

    # One column per scalar field: an explicit mapping beats an automatic one,
    # two automatic candidates go to the first; the others stay as custom fields.
    for name in _SCALAR_FIELDS:
        claimants = [i for i, t in enumerate(targets) if t.kind == name]
        if len(claimants) < 2:
            continue
        chosen = [i for i in claimants if i in explicit]
        if len(chosen) > 1:
            raise ListImportError(f"columns {shown[chosen[0]]!r} and {shown[chosen[1]]!r} are both mapped to {name}")
        winner = chosen[0] if chosen else claimants[0]
        for i in claimants:
            if i != winner:
                targets[i] = _Target("custom")
                notes.append(f"column {shown[i]!r} kept in custom fields: {shown[winner]!r} maps to {name}")

    scalars: list[tuple[str, int]] = []
    phones: list[tuple[int, int, str]] = []
    customs: list[tuple[str, int]] = []
    custom_keys: set[str] = set()
    columns: dict[str, str] = {}
    for i, target in enumerate(targets):
        kind = target.kind
        if kind in _SCALAR_FIELDS:
            scalars.append((kind, i))
            columns[shown[i]] = kind
        elif kind == "phone":
            phones.append((target.order, i, shown[i][:32]))
            columns[shown[i]] = "phone"
        elif kind == "custom":
            key = base = target.key or shown[i]
            n = 2
            while key in custom_keys:
                key, n = f"{base} ({n})", n + 1
            custom_keys.add(key)
            customs.append((key, i))
            columns[shown[i]] = f"custom:{key}"
        else:
            columns[shown[i]] = "ignore"

    if not phones:
        looks_like_data = any(_looks_like_phone(h) for h in names)
        hint = (
            "row 1 looks like a contact, not a header: the file must start with a header row"
            if looks_like_data
            else "name the phone column with a mapping such as 'Cell=phone'"
        )
        raise ListImportError(
            "no column maps to phone (header row 1: " + ", ".join(repr(n) for n in names) + f"); {hint}",
            row=1,
        )
    phones.sort()
    return _Layout(
        ncols=len(names),
        header=names,
        scalars=scalars,
        phones=[(i, label) for _, i, label in phones],
        customs=customs,
        columns=columns,
        notes=notes,
    )


def _looks_like_phone(text: str) -> bool:
    return sum(ch.isdigit() for ch in text) >= 7


# --------------------------------------------------------------------------- reading


# A phone kept for insertion: (e164, label, candidate zones, e164 as int)
_Kept = tuple[str, str, tuple[str, ...], int]

# One physical line: (text or None when too long, line number, byte length, flags, detail)
_Line = tuple[str | None, int, int, int, str]


class _LineTooLong(Exception):
    pass


class _RecordOverflow(Exception):
    pass


class _LineFeed:
    """Feeds ``csv.reader`` decoded lines and keeps the lines of the record in progress.

    Keeping them is what allows a failed multi-line record to be cut back to its
    first line and the rest re-read (``replay``) instead of lost.
    """

    def __init__(self, stream: IO[bytes], encoding: str, first: bytes) -> None:
        self.stream = stream
        self.encoding = encoding
        self.replay: deque[_Line] = deque()
        self.pending: list[_Line] = []
        self.pending_bytes = 0
        self.flags = 0
        self.line_no = 0
        self.bytes_read = 0
        self.too_long: _Line | None = None
        self._first: bytes | None = first

    def __iter__(self) -> _LineFeed:
        return self

    def begin_record(self) -> None:
        self.pending = []
        self.pending_bytes = 0
        self.flags = 0

    def __next__(self) -> str:
        line = self.replay.popleft() if self.replay else self._read()
        if line[0] is None:
            self.too_long = line
            raise _LineTooLong
        self.pending.append(line)
        self.pending_bytes += line[2]
        self.flags |= line[3]
        if len(self.pending) > MAX_RECORD_LINES or (self.pending_bytes > MAX_RECORD_BYTES and len(self.pending) > 1):
            raise _RecordOverflow
        return line[0]

    def _read(self) -> _Line:
        if self._first is not None:
            raw, self._first = self._first, None
        else:
            raw = self.stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            raise StopIteration
        self.line_no += 1
        self.bytes_read += len(raw)
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            size = len(raw)
            while True:  # skip the rest of the line without keeping it
                chunk = self.stream.readline(1 << 16)
                size += len(chunk)
                self.bytes_read += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            return (None, self.line_no, size, 0, "")
        flags = _NUL if b"\x00" in raw else 0
        try:
            text = raw.decode(self.encoding)
            detail = ""
        except UnicodeDecodeError as exc:
            flags |= _ENC
            text = raw.decode(self.encoding, "backslashreplace")
            bad = raw[exc.start : max(exc.end, exc.start + 1)][:8].hex(" ")
            detail = f"line {self.line_no}: byte(s) {bad} at byte {exc.start + 1} are not valid {self.encoding}"
        return (text, self.line_no, len(raw), flags, detail)


def _lenient_cells(text: str, dialect: type[csv.Dialect] | csv.Dialect) -> list[str]:
    """Best-effort cells of a line that failed to parse, for the reject file."""
    try:
        return next(csv.reader([text.rstrip("\r\n")], dialect, strict=False), [])
    except csv.Error:
        return [text.rstrip("\r\n")]


_MAGIC = (
    (b"PK\x03\x04", "an Excel workbook or another zip archive; save it as 'CSV UTF-8' first"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls); save it as 'CSV UTF-8' first"),
    (b"\xff\xfe\x00\x00", "UTF-32 text; save it as 'CSV UTF-8'"),
    (b"\x00\x00\xfe\xff", "UTF-32 text; save it as 'CSV UTF-8'"),
    (b"\xff\xfe", "UTF-16 text (Excel's 'Unicode Text'); save it as 'CSV UTF-8'"),
    (b"\xfe\xff", "UTF-16 text; save it as 'CSV UTF-8'"),
    (b"\x1f\x8b", "gzip-compressed; decompress it first"),
    (b"%PDF", "a PDF document, not a CSV file"),
)


def _check_encoding(name: str) -> str:
    try:
        info = codecs.lookup(name)
    except LookupError:
        raise ListImportError(f"unknown encoding {name!r}") from None
    sample = '\n\r,;\t"phone'
    try:
        ascii_compatible = sample.encode(info.name) == sample.encode("ascii")
    except (UnicodeError, LookupError):
        ascii_compatible = False
    if not ascii_compatible:
        raise ListImportError(f"encoding {name!r} is not supported: use UTF-8 or a single-byte encoding such as cp1252")
    return "utf-8" if info.name == "utf-8-sig" else info.name


def _make_dialect(delimiter: str) -> type[csv.Dialect]:
    # strict: "a"b and stray quotes become row errors instead of silent guesses.
    return type("ImportDialect", (csv.excel,), {"delimiter": delimiter, "strict": True})


def _sniff_delimiter(line: str) -> str:
    counts = {d: 0 for d in ",;\t|"}
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


@functools.cache
def _zone_names() -> dict[str, str]:
    """Zone names by lower case; "Area/Place" only, since EST, MST or Etc/GMT+5
    are fixed offsets that ignore daylight saving time and would shift calling hours."""
    return {
        name.lower(): name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/"))
    }


# --------------------------------------------------------------------------- writing


class _IdsNotConsecutive(Exception):
    pass


class _Writer:
    """Inserts batches of contacts and phones; ``insert_contacts`` returns their ids in order.

    SQLAlchemy's per-row parameter handling costs more than SQLite itself, so on
    SQLite rows go straight to the driver's executemany, with JSON and
    timestamps converted by the same bind processors SQLAlchemy would use
    (time-zone lists and the batch's timestamp once each), and the ids are read back from
    ``last_insert_rowid()``: the batch holds the write lock, so its rowids are
    consecutive, and ``_check_ids`` verifies it before phones point at them.
    Other databases use Core ``INSERT ... RETURNING`` in parameter order, with
    Python values.
    """

    CONTACT_COLS = (
        "campaign_id", "list_id", "source_row", "external_id", "first_name", "last_name", "email",
        "state", "postal_code", "timezone", "custom_fields", "status", "attempts", "priority", "created_at",
    )  # fmt: skip
    PHONE_COLS = ("contact_id", "campaign_id", "e164", "label", "position", "timezones", "status", "attempts")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect: Dialect = session.connection().dialect
        self.contacts = cast(Table, Contact.__table__)
        self.phones = cast(Table, ContactPhone.__table__)
        self.fast = False
        self._zones_memo: dict[tuple[bool, tuple[str, ...]], Any] = {}
        self._json_proc: Callable[[Any], Any] = _same
        self._time_proc: Callable[[Any], Any] = _same
        if self.dialect.name == "sqlite":
            contact_sql, contact_procs = self._compile(self.contacts, self.CONTACT_COLS)
            phone_sql, phone_procs = self._compile(self.phones, self.PHONE_COLS)
            # Only the columns bound here may need conversion; anything else means
            # the model changed in a way this shortcut does not know.
            if contact_procs <= {"custom_fields", "created_at"} and phone_procs <= {"timezones"}:
                self.fast = True
                self._contact_sql, self._phone_sql = contact_sql, phone_sql
                self._json_proc = self._processor(self.contacts, "custom_fields") or _same
                self._time_proc = self._processor(self.contacts, "created_at") or _same
        self._empty_json = self._json_proc({})

    def _compile(self, table: Table, cols: tuple[str, ...]) -> tuple[str, set[str]]:
        stmt = insert(table).values({name: bindparam(name) for name in cols})
        compiled = stmt.compile(dialect=self.dialect)
        if not compiled.positional or list(compiled.positiontup or ()) != list(cols):
            return "", {"?"}
        procs = {name for name in cols if self._processor(table, name) is not None}
        return str(compiled), procs

    def _processor(self, table: Table, name: str) -> Callable[[Any], Any] | None:
        # The dialect's own implementation, as SQLAlchemy binds it (for SQLite a
        # timestamp becomes SQLAlchemy's text format, not the driver's).
        return table.c[name].type.dialect_impl(self.dialect).bind_processor(self.dialect)

    def zones(self, zones: tuple[str, ...]) -> Any:
        """The timezones column value: few distinct lists in a file, so each is converted once."""
        key = (self.fast, zones)
        done = self._zones_memo.get(key)
        if done is None:
            done = self._zones_memo[key] = self._json_proc(list(zones)) if self.fast else list(zones)
        return done

    def insert_contacts(self, rows: list[tuple[Any, ...]]) -> list[int]:
        if not self.fast:
            stmt = insert(self.contacts).returning(self.contacts.c.id, sort_by_parameter_order=True)
            params = [dict(zip(self.CONTACT_COLS, row, strict=True)) for row in rows]
            return list(self.session.execute(stmt, params).scalars())
        conn = self.session.connection()
        json, empty, stamp = self._json_proc, self._empty_json, rows[0][14]
        bound_stamp, bind_time = self._time_proc(stamp), self._time_proc
        bound = [
            (
                *row[:10],
                json(row[10]) if row[10] else empty,
                row[11],
                row[12],
                row[13],
                bound_stamp if row[14] is stamp else bind_time(row[14]),
            )
            for row in rows
        ]
        conn.exec_driver_sql(self._contact_sql, bound)
        last = conn.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
        first = last - len(rows) + 1
        self._check_ids(conn, first, last, rows)
        return list(range(first, last + 1))

    def _check_ids(self, conn: Connection, first: int, last: int, rows: list[tuple[Any, ...]]) -> None:
        c = self.contacts.c
        count, low, high = conn.execute(
            select(func.count(), func.min(c.source_row), func.max(c.source_row)).where(
                c.id.between(first, last), c.list_id == rows[0][1]
            )
        ).one()
        if (count, low, high) != (len(rows), rows[0][2], rows[-1][2]):
            raise _IdsNotConsecutive

    def insert_phones(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        # In number order, the unique index on (campaign, number) is filled
        # page by page instead of at random.
        rows.sort(key=_by_number)
        if not self.fast:
            params = [dict(zip(self.PHONE_COLS, row, strict=True)) for row in rows]
            self.session.execute(insert(self.phones), params)
            return
        self.session.connection().exec_driver_sql(self._phone_sql, rows)


def _same(value: Any) -> Any:
    return value


def _by_number(row: tuple[Any, ...]) -> str:
    return cast(str, row[2])


# --------------------------------------------------------------------------- import


Source = str | os.PathLike[str] | BinaryIO | IO[bytes]
SessionSource = Session | Callable[[], Session]
Progress = Callable[[int, int], None]


def import_contacts(
    session_factory_or_session: SessionSource,
    campaign_id: int,
    source: Source,
    *,
    mapping: dict[str, str] | None = None,
    region: str | None = None,
    list_name: str | None = None,
    rejects: str | os.PathLike[str] | TextIO | None = None,
    progress: Progress | None = None,
    batch_size: int = 5000,
    encoding: str | None = None,
    delimiter: str | None = None,
    commit_interval_s: float = 1.0,
    import_key: str | None = None,
    on_commit: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import the CSV ``source`` into a new contact list of the campaign.

    ``region`` is the default region for numbers written without a country
    code (default: the campaign's).  ``encoding`` defaults to UTF-8 (with or
    without a byte-order mark); ``delimiter`` is guessed from the header.

    Rows are inserted ``batch_size`` at a time, and whole batches are
    committed together with the list's counters, so an interrupted import
    leaves consistent landed rows and the list says how far it got.  Batches
    share a commit until ``commit_interval_s`` has passed (0: commit every
    batch): numbers arrive in random order, so every commit rewrites nearly
    every page of the phone-number indexes, and committing each 5,000 rows
    made a million-row import spend more time committing than working.
    A Session passed in is committed this way; a factory is called once and
    its session closed at the end.

    ``import_key`` makes the import resumable (see the module's "Resuming"):
    the campaign's list with that key is continued instead of a new one made.
    ``on_commit`` is called after every commit with the report so far (rows
    read, landed, rejected), for progress that only counts what is durable.

    Raises ListImportError when the file as a whole cannot be imported; bad
    rows never raise, they are rejected and counted.
    """
    started = time.perf_counter()
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if commit_interval_s < 0:
        raise ValueError("commit_interval_s must not be negative")
    own_session = not isinstance(session_factory_or_session, Session)
    session = (
        session_factory_or_session if isinstance(session_factory_or_session, Session) else session_factory_or_session()
    )
    try:
        return _Import(
            session, campaign_id, source, mapping, region, list_name, rejects, progress,
            batch_size, encoding, delimiter, commit_interval_s, started,
            import_key=import_key, on_commit=on_commit,
        ).run()  # fmt: skip
    finally:
        if own_session:
            session.close()


def _open_source(source: Source) -> tuple[IO[bytes], bool, str, int]:
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            stream: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except OSError as exc:
            raise ListImportError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
        return stream, True, str(path), _size_of(stream)
    if isinstance(source, io.TextIOBase):
        buffer = getattr(source, "buffer", None)
        if buffer is None:
            raise TypeError("give the importer a path or a binary file, not text")
        source = buffer
    name = str(getattr(source, "name", "") or "")
    return source, False, name, _size_of(source)


def _size_of(stream: IO[bytes]) -> int:
    try:
        size = os.fstat(stream.fileno()).st_size
        return max(size - stream.tell(), 0) if stream.seekable() else size
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        pass
    try:
        if stream.seekable():
            here = stream.tell()
            end = stream.seek(0, io.SEEK_END)
            stream.seek(here)
            return end - here
    except (OSError, ValueError):
        pass
    return 0


class _Import:
    """One run of ``import_contacts``; state lives here so the hot loop stays flat."""

    def __init__(
        self,
        session: Session,
        campaign_id: int,
        source: Source,
        mapping: dict[str, str] | None,
        region: str | None,
        list_name: str | None,
        rejects: str | os.PathLike[str] | TextIO | None,
        progress: Progress | None,
        batch_size: int,
        encoding: str | None,
        delimiter: str | None,
        commit_interval_s: float,
        started: float,
        *,
        import_key: str | None = None,
        on_commit: Callable[[ImportReport], None] | None = None,
    ) -> None:
        self.session = session
        self.import_key = import_key
        self.on_commit = on_commit
        # Resuming: rows through ``resume_through`` landed (or were rejected) in an earlier run.
        self.resuming = False
        self.resume_through = 0
        self.row = 0  # the last row read when the batch being flushed was closed
        self.finishing = False
        self.campaign_id = campaign_id
        self.source = source
        self.mapping = mapping
        self.region = region
        self.list_name = list_name
        self.rejects_target = rejects
        self.progress = progress
        self.batch_size = batch_size
        self.encoding = encoding
        self.delimiter = delimiter
        self.commit_interval_s = commit_interval_s
        self.started = started
        self.report = ImportReport(list_id=None, campaign_id=campaign_id)
        self.list_id = 0
        self.reject_writer: Any = None
        self.reject_file: TextIO | None = None
        self.own_reject_file = False
        # Numbers as ints (E.164 digits), for deduplication without a query per row:
        # the campaign's before this import and the older ones of this import in
        # sorted arrays (8 bytes a number), the recent ones of this import in a
        # set (about 60 bytes a number) merged into the array now and then, the
        # row of each number of the batch being built, and the numbers another
        # import landed meanwhile.
        self.existing: array[int] = array("q")
        self.mine: array[int] = array("q")
        self.seen: set[int] = set()
        self.batch_first: dict[int, int] = {}
        self.taken: set[int] = set()
        self.contact_rows: list[tuple[Any, ...]] = []
        self.contact_phones: list[list[_Kept]] = []
        # Batches inserted since the last commit: kept to count them at commit
        # time and to insert them again if the transaction has to be rolled back.
        self.uncommitted: list[tuple[list[tuple[Any, ...]], list[list[_Kept]]]] = []
        self.last_commit = time.perf_counter()

    # ----------------------------------------------------------------- set-up

    def run(self) -> ImportReport:
        campaign = self.session.get(Campaign, self.campaign_id)
        if campaign is None:
            raise ListImportError(f"campaign {self.campaign_id} does not exist")
        region = (self.region or campaign.default_region or "").upper() or None
        if region is not None and not is_known_region(region):
            raise ListImportError(f"unknown region {region!r}: use a two-letter code such as US or CA")
        self.region = region
        stream, close, name, total = _open_source(self.source)
        try:
            self._run(stream, name, total)
        finally:
            if close:
                stream.close()
            if self.reject_file is not None:
                if self.own_reject_file:
                    self.reject_file.close()
                else:
                    self.reject_file.flush()
        self._scrub()
        self.report.elapsed_s = round(time.perf_counter() - self.started, 3)
        return self.report

    def _scrub(self) -> None:
        """Count the landed phones on each do-not-call list (they stay: the dial gate blocks them)."""
        if not self.list_id:
            return
        registry, problem = dnc_store.open_current_registry(self.session)
        try:
            scrub = dnc_store.scrub_campaign(self.session, self.campaign_id, registry=registry, list_id=self.list_id)
        finally:
            if registry is not None:
                registry.close()
            self.session.rollback()  # the scrub only read
        self.report.on_dnc_by_list = {"company": scrub.company, "campaign": scrub.campaign}
        if scrub.national is not None:
            self.report.on_dnc_by_list["national"] = scrub.national
        else:
            self.report.notes.append(f"not scrubbed against the national registry: {problem}")

    def _run(self, stream: IO[bytes], name: str, total: int) -> None:
        report = self.report
        first = stream.readline(MAX_LINE_BYTES + 1)
        encoding = self._encoding_for(first)
        if first.startswith(codecs.BOM_UTF8):
            first = first[len(codecs.BOM_UTF8) :]
            report.bytes_read = len(codecs.BOM_UTF8)
        report.encoding = encoding
        feed = _LineFeed(stream, encoding, first)
        feed.bytes_read = report.bytes_read

        header, header_row, dialect = self._read_header(feed)
        layout = _layout(header, self.mapping)
        report.columns = layout.columns
        report.notes.extend(layout.notes)

        self._open_rejects(layout.header)  # before the list exists: a bad path leaves nothing behind
        self._create_list(name)
        self._load_campaign_numbers()
        writer = _Writer(self.session)
        self._go(feed, dialect, layout, header_row, writer, total)

    def _encoding_for(self, first: bytes) -> str:
        for magic, what in _MAGIC:
            if first.startswith(magic):
                raise ListImportError(f"the file is {what}")
        if first.startswith(codecs.BOM_UTF8):
            if self.encoding and _check_encoding(self.encoding) != "utf-8":
                self.report.notes.append(f"the file starts with a UTF-8 mark; read as UTF-8, not {self.encoding}")
            return "utf-8"
        return _check_encoding(self.encoding or "utf-8")

    def _read_header(self, feed: _LineFeed) -> tuple[list[str], int, type[csv.Dialect]]:
        row = 0
        while True:  # blank lines before the header are skipped but keep their row numbers
            try:
                line = feed._read()
            except StopIteration:
                raise ListImportError("the file is empty: it has no header row", row=1) from None
            row += 1
            text = line[0]
            if text is None:
                raise ListImportError(
                    f"row {row} (the header) is longer than {MAX_LINE_BYTES:,} bytes: this is not a CSV list",
                    row=row,
                )
            if line[3] & _ENC:
                raise ListImportError(
                    f"row {row} (the header) is not valid {feed.encoding}: {line[4]}; "
                    "if the file was saved in another encoding, give it (for example cp1252 or latin-1)",
                    row=row,
                )
            if line[3] & _NUL:
                raise ListImportError(
                    f"row {row} (the header) contains NUL bytes: the file is binary or UTF-16, "
                    "not a UTF-8 CSV; save it as 'CSV UTF-8'",
                    row=row,
                )
            if text.strip():
                break
        body = text.rstrip("\r\n")
        if "\r" in body and '"' not in body:
            raise ListImportError(
                "lines end with a carriage return alone (old Mac format): save the file as 'CSV UTF-8'", row=row
            )
        delimiter = self.delimiter or _sniff_delimiter(text)
        if delimiter != ",":
            self.report.notes.append(f"cells are separated by {delimiter!r}")
        dialect = _make_dialect(delimiter)
        feed.replay.appendleft(line)
        feed.begin_record()
        try:
            header = next(csv.reader(feed, dialect))
        except (csv.Error, _RecordOverflow, _LineTooLong, StopIteration) as exc:
            detail = _csv_problem(str(exc)) if isinstance(exc, csv.Error) else "a quote in it is never closed"
            raise ListImportError(f"row {row} (the header) cannot be read: {detail}", row=row) from None
        if len(feed.pending) > 1:
            self.report.notes.append(f"the header spans {len(feed.pending)} lines (a quoted name with a line break)")
        self.report.bytes_read = feed.bytes_read
        return header, row, dialect

    def _create_list(self, source_name: str) -> None:
        if self.import_key is not None and self._resume_list():
            return
        name = self.list_name or (Path(source_name).name if source_name else "")
        if not name:
            name = "import " + datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
        contact_list = ContactList(
            campaign_id=self.campaign_id,
            name=name[:200],
            source=source_name[:500],
            default_region=(self.region or "")[:2],
            import_key=self.import_key,
        )
        self.session.add(contact_list)
        try:
            self.session.commit()
        except IntegrityError:
            # Another run with the same key created the list a moment ago: continue it.
            self.session.rollback()
            if self.import_key is None or not self._resume_list():
                raise
            return
        self.list_id = contact_list.id
        self.report.list_id = contact_list.id

    def _resume_list(self) -> bool:
        """Continue the campaign's list with this import key, if there is one."""
        found = self.session.execute(
            select(ContactList.id, ContactList.rows_through).where(
                ContactList.campaign_id == self.campaign_id, ContactList.import_key == self.import_key
            )
        ).first()
        self.session.rollback()  # end the read transaction; the import commits its own
        if found is None:
            return False
        self.list_id = found.id
        self.report.list_id = found.id
        self.resuming = True
        self.resume_through = found.rows_through
        if found.rows_through:
            self.report.notes.append(
                f"resumed list {found.id}: rows through {found.rows_through} had landed in an earlier run"
            )
        return True

    def _load_campaign_numbers(self) -> None:
        stmt = select(ContactPhone.e164).where(ContactPhone.campaign_id == self.campaign_id)
        if self.resuming:  # this list's own numbers are found again as the file is read
            stmt = stmt.join(Contact, Contact.id == ContactPhone.contact_id).where(Contact.list_id != self.list_id)
        numbers = self.session.execute(stmt.execution_options(yield_per=20_000)).scalars()
        self.existing = array("q", sorted(int(e[1:]) for e in numbers if e[1:].isdigit()))

    def _in_campaign(self, key: int) -> bool:
        return _in_sorted(self.existing, key) or key in self.taken

    def _settle_seen(self) -> None:
        """Move this import's numbers from the set into the compact sorted array."""
        self.mine = array("q", heapq.merge(self.mine, sorted(self.seen)))
        self.seen.clear()

    def _checked_field(self, name: str, value: str, row: int, cells: list[str], feed: _LineFeed) -> Any:
        """Priority, time zone and state, normalized; None after rejecting the row."""
        if name == "priority":
            try:
                number = int(value)
            except ValueError:
                number = None
            if number is None or not -(2**31) <= number < 2**31:
                self._reject(row, "bad_priority", f"priority {value[:40]!r} is not a whole number", cells, feed)
                return None
            return number
        if name == "timezone":
            zone = _zone_names().get(value.lower())
            if zone is None:
                detail = (
                    f"time zone {value[:40]!r} is not a zone name such as America/New_York "
                    "(abbreviations like EST ignore daylight saving time)"
                )
                self._reject(row, "bad_timezone", detail, cells, feed)
            return zone
        return _US_CA_STATES.get(value.lower(), value.upper() if len(value) == 2 else value)

    def _first_row(self, e164: str) -> int | None:
        """The row of this file that already holds ``e164``, for the reject detail."""
        stmt = (
            select(Contact.source_row)
            .join(ContactPhone, ContactPhone.contact_id == Contact.id)
            .where(
                ContactPhone.campaign_id == self.campaign_id,
                ContactPhone.e164 == e164,
                Contact.list_id == self.list_id,
            )
        )
        return self.session.execute(stmt).scalar()

    def _open_rejects(self, header: list[str]) -> None:
        target = self.rejects_target
        if target is None:
            return
        if isinstance(target, str | os.PathLike):
            try:
                self.reject_file = open(target, "w", encoding="utf-8", newline="")  # noqa: SIM115
            except OSError as exc:
                raise ListImportError(f"cannot write the reject file {str(target)!r}: {exc.strerror}") from None
            self.own_reject_file = True
            self.report.rejects_file = str(target)
        else:
            self.reject_file = target
            self.report.rejects_file = str(getattr(target, "name", "") or "") or None
        self.reject_writer = safe_csv_writer(self.reject_file)
        self.reject_writer.writerow(["row", "reason", "detail", *header])

    # ----------------------------------------------------------------- the loop

    def _go(
        self,
        feed: _LineFeed,
        dialect: type[csv.Dialect],
        layout: _Layout,
        header_row: int,
        writer: _Writer,
        total: int,
    ) -> None:
        progress = self.progress
        reader = csv.reader(feed, dialect)
        row = header_row
        next_progress = feed.bytes_read + _PROGRESS_EVERY
        ncols = layout.ncols
        handle = self._row
        batch_size = self.batch_size
        while True:
            feed.begin_record()
            try:
                cells = next(reader)
            except StopIteration:
                break
            except _LineTooLong:
                row += 1
                self._broken_record(feed, row, "too_long", dialect)
                continue
            except _RecordOverflow:
                row += 1
                self._broken_record(feed, row, "overflow", dialect)
                continue
            except csv.Error as exc:
                row += 1
                self._broken_record(feed, row, str(exc), dialect)
                continue
            row += 1
            if len(feed.pending) > 1 and (_ragged(cells, ncols) or self._swallowed_rows(feed, cells, layout, dialect)):
                self._multiline_mismatch(feed, row, cells, ncols, dialect)
            elif feed.flags:
                self._flagged(feed, row, cells)
            else:
                handle(row, cells, layout, feed)
            if len(self.contact_rows) >= batch_size:
                self.row = row
                self._flush(writer)
            if progress is not None and feed.bytes_read >= next_progress:
                progress(feed.bytes_read, total)
                next_progress = feed.bytes_read + _PROGRESS_EVERY
        self.row = row
        self.finishing = True
        self._flush(writer, final=True)
        self.report.bytes_read = feed.bytes_read
        if progress is not None:
            progress(feed.bytes_read, max(total, feed.bytes_read))

    def _row(self, row: int, cells: list[str], layout: _Layout, feed: _LineFeed) -> None:
        """Validate one parsed record and queue it for the next batch."""
        if not any(cells):
            self.report.blank_rows += 1
            return
        self.report.rows_read += 1
        ncols = layout.ncols
        if len(cells) != ncols and _ragged(cells, ncols):
            self._reject(row, "ragged_row", f"{len(cells)} cells where the header has {ncols}", cells, feed)
            return
        values: dict[str, Any] = {}
        for name, i in layout.scalars:
            value = cells[i].strip()
            if not value:
                continue
            if name in _CHECKED_FIELDS:
                checked = self._checked_field(name, value, row, cells, feed)
                if checked is None:
                    return
                if name == "priority":
                    values[name] = checked
                    continue
                value = checked
            limit = _LIMITS[name]
            if len(value) > limit:
                detail = f"{layout.header[i]!r} ({name}) has {len(value):,} characters; at most {limit}"
                self._reject(row, "field_too_long", detail, cells, feed)
                return
            values[name] = value
        custom: dict[str, str] = {}
        for custom_key, i in layout.customs:
            value = cells[i].strip()
            if value:
                if len(value) > MAX_CELL_CHARS:
                    detail = f"{custom_key!r} has {len(value):,} characters; at most {MAX_CELL_CHARS:,}"
                    self._reject(row, "field_too_long", detail, cells, feed)
                    return
                custom[custom_key] = value

        region = self.region
        found: list[tuple[PhoneInfo, str]] = []
        bad: list[tuple[str, str, PhoneError]] = []
        for i, label in layout.phones:
            raw = cells[i]
            if not raw or raw.isspace():
                continue
            try:
                found.append((analyze_phone(raw, region), label))
            except PhoneError as exc:
                bad.append((label, raw, exc))
        if not found:
            if bad:
                label, raw, err = bad[0]
                more = f" (and {len(bad) - 1} more bad)" if len(bad) > 1 else ""
                detail = f"{label} {raw.strip()[:40]!r}: {err.code}: {err}{more}"
                self._reject(row, "bad_number", detail, cells, feed)
            else:
                self._reject(row, "missing_phone", "no phone number in " + _names(layout), cells, feed)
            return

        kept: list[_Kept] = []
        dups: list[tuple[str, str, int]] = []  # (label, e164, first row; 0 = in the campaign before)
        seen, batch_first = self.seen, self.batch_first
        for info, label in found:
            key = int(info.e164[1:])
            if key in seen or _in_sorted(self.mine, key):
                first = batch_first.get(key)
                if first == row:
                    continue  # the same number twice on one row is kept once, silently
                dups.append((label, info.e164, first or self._first_row(info.e164) or 0))
            elif self._in_campaign(key):
                dups.append((label, info.e164, 0))
            else:
                kept.append((info.e164, label, info.timezones, key))
                batch_first[key] = row
                seen.add(key)
                if len(seen) >= _SEEN_SET_MAX:
                    self._settle_seen()
        if not kept:
            label, e164, first = dups[0]
            self.report.duplicates += 1
            if first:
                detail = f"{label} {e164} is already on row {first}"
                self._reject(row, "duplicate_in_list", detail, cells, feed)
            else:
                detail = f"{label} {e164} is already in the campaign"
                self._reject(row, "duplicate_in_campaign", detail, cells, feed)
            return
        if bad or dups:
            self._dropped(row, bad, dups, len(kept), cells)
        self.contact_rows.append(
            (
                self.campaign_id,
                self.list_id,
                row,
                values.get("external_id"),
                values.get("first_name", ""),
                values.get("last_name", ""),
                values.get("email", ""),
                values.get("state"),
                values.get("postal_code"),
                values.get("timezone"),
                custom,
                _NEW,
                0,
                values.get("priority", 0),
                self.now,
            )
        )
        self.contact_phones.append(kept)

    # ----------------------------------------------------------------- problems

    def _flagged(self, feed: _LineFeed, row: int, cells: list[str]) -> None:
        self.report.rows_read += 1
        if feed.flags & _ENC:
            detail = next(line[4] for line in feed.pending if line[3] & _ENC)
            self._reject(row, "encoding_error", detail, cells, feed)
        else:
            number = next(line[1] for line in feed.pending if line[3] & _NUL)
            self._reject(row, "nul_byte", f"line {number} contains a NUL byte", cells, feed)

    def _swallowed_rows(self, feed: _LineFeed, cells: list[str], layout: _Layout, dialect: type[csv.Dialect]) -> bool:
        """Does this multi-line record look like rows merged by a stray quote?

        Names, phones and codes never contain line breaks; only free-text
        custom columns (notes, addresses) do.  And a line inside the quotes
        that would be a complete row with a valid phone on its own is a
        contact, not part of a note.
        """
        for _, i in layout.scalars:
            if "\n" in cells[i] or "\r" in cells[i]:
                return True
        for i, _ in layout.phones:
            if "\n" in cells[i] or "\r" in cells[i]:
                return True
        for line in feed.pending[1:]:
            alone = _lenient_cells(line[0] or "", dialect)
            if len(alone) == layout.ncols and any(_is_phone(alone[i], self.region) for i, _ in layout.phones):
                return True
        return False

    def _multiline_mismatch(
        self, feed: _LineFeed, row: int, cells: list[str], ncols: int, dialect: type[csv.Dialect]
    ) -> None:
        """A record spanning lines with the wrong cell count: a stray quote, most likely."""
        pending = feed.pending
        first = pending[0]
        self.report.rows_read += 1
        shape = (
            f"gives {len(cells)} cells where the header has {ncols}"
            if _ragged(cells, ncols)
            else "swallows lines that look like rows of their own"
        )
        detail = (
            f"a quote opened on line {first[1]} runs over {len(pending)} lines and {shape}; "
            "the lines after it are read as rows of their own"
        )
        self._reject(row, "unterminated_quote", detail, _lenient_cells(first[0] or "", dialect), feed)
        feed.replay.extendleft(reversed(pending[1:]))

    def _broken_record(self, feed: _LineFeed, row: int, what: str, dialect: type[csv.Dialect]) -> None:
        """The csv reader gave up on a record: reject its first line, re-read the others."""
        self.report.rows_read += 1
        pending = feed.pending
        long_line = feed.too_long if what == "too_long" else None
        feed.too_long = None
        if not pending:
            if long_line is None:  # csv errors always follow a line read; kept for safety
                self._reject(row, "bad_quoting", what, [], feed)
                return
            detail = f"line {long_line[1]} is {long_line[2]:,} bytes long; lines may be at most {MAX_LINE_BYTES:,}"
            self._reject(row, "field_too_long", detail, [], feed, line=long_line[1])
            return
        first = pending[0]
        rest = list(pending[1:])
        if long_line is not None:
            rest.append(long_line)
        end_of_data = "unexpected end of data" in what
        if rest:
            reason = "unterminated_quote"
            if long_line is not None:
                why = f"is still open at line {long_line[1]}, which is too long to read"
            elif what == "overflow":
                why = f"is still open after {len(pending)} lines"
            elif end_of_data:
                why = "is still open at the end of the file"
            else:
                reason, why = "bad_quoting", f"ends badly on line {pending[-1][1]} ({_csv_problem(what)})"
            detail = f"a quote opened on line {first[1]} {why}; the lines after it are read as rows of their own"
        elif end_of_data:
            reason, detail = (
                "unterminated_quote",
                f"a quote opened on line {first[1]} is still open at the end of the file",
            )
        elif "field larger than field limit" in what:
            reason, detail = "field_too_long", f"line {first[1]}: {_csv_problem(what)}"
        else:
            reason, detail = "bad_quoting", f"line {first[1]}: {_csv_problem(what)}"
        if first[3] & _ENC:
            reason, detail = "encoding_error", first[4]
        elif first[3] & _NUL:
            reason, detail = "nul_byte", f"line {first[1]} contains a NUL byte"
        self._reject(row, reason, detail, _lenient_cells(first[0] or "", dialect), feed)
        feed.replay.extendleft(reversed(rest))

    def _reject(
        self,
        row: int,
        reason: str,
        detail: str,
        cells: Sequence[str],
        feed: _LineFeed | None = None,
        *,
        line: int | None = None,
    ) -> None:
        report = self.report
        report.rejected += 1
        counts = report.rejected_by_reason
        counts[reason] = counts.get(reason, 0) + 1
        if line is None and feed is not None and feed.pending:
            line = feed.pending[0][1]
        if len(report.errors) < _ERRORS_KEPT:
            where = f"row {row}" + (f" (line {line})" if line is not None and line != row else "")
            report.errors.append(f"{where}: {reason}: {detail}")
        if self.reject_writer is not None:
            # A NUL would make the reject file itself unreadable: show it escaped.
            cells = [c.replace("\x00", "\\x00") for c in cells]
            self.reject_writer.writerow([row, reason, detail, *(c[:MAX_CELL_CHARS] for c in cells)])

    def _dropped(
        self, row: int, bad: list[tuple[str, str, PhoneError]], dups: list[tuple[str, str, int]], kept: int,
        cells: list[str],
    ) -> None:  # fmt: skip
        parts = []
        counts = self.report.phones_dropped_by_reason
        for label, raw, exc in bad:
            parts.append(f"{label} {raw.strip()[:40]!r}: bad_number: {exc.code}")
            counts["bad_number"] = counts.get("bad_number", 0) + 1
        for label, e164, first in dups:
            reason = "duplicate_in_list" if first else "duplicate_in_campaign"
            parts.append(f"{label} {e164}: {reason}: already in " + (f"row {first}" if first else "the campaign"))
            counts[reason] = counts.get(reason, 0) + 1
        detail = "; ".join(parts) + f"; the contact was imported with {kept} phone(s)"
        if self.reject_writer is not None:
            self.reject_writer.writerow([row, "phone_dropped", detail, *(c[:MAX_CELL_CHARS] for c in cells)])

    # ----------------------------------------------------------------- batches

    @functools.cached_property
    def now(self) -> datetime:
        return datetime.now(UTC)

    def _flush(self, writer: _Writer, *, final: bool = False) -> None:
        """Insert the batch being built; commit when the transaction is old enough, or at the end."""
        rows, phones = self.contact_rows, self.contact_phones
        self.contact_rows, self.contact_phones, self.batch_first = [], [], {}
        if rows and self.resume_through and rows[0][2] <= self.resume_through:
            rows, phones = self._skip_landed(rows, phones)
            if not rows and not final:
                return  # nothing new yet: committing now would only set the counters back
        if rows:
            self.uncommitted.append((rows, phones))
            try:
                self._insert(writer, rows, phones)
            except _IdsNotConsecutive:
                self._redo_uncommitted(writer, ids_failed=True)
                return
            except IntegrityError:
                self._redo_uncommitted(writer, ids_failed=False)
                return
        if final or time.perf_counter() - self.last_commit >= self.commit_interval_s:
            self._commit()

    def _insert(self, writer: _Writer, rows: list[tuple[Any, ...]], phones: list[list[_Kept]]) -> None:
        if not rows:
            return
        ids = writer.insert_contacts(rows)
        campaign_id = self.campaign_id
        zones_value = writer.zones
        writer.insert_phones(
            [
                (contact_id, campaign_id, e164, label, position, zones_value(zones), "ok", 0)
                for contact_id, kept in zip(ids, phones, strict=True)
                for position, (e164, label, zones, _key) in enumerate(kept)
            ]
        )

    def _skip_landed(
        self, rows: list[tuple[Any, ...]], phones: list[list[_Kept]]
    ) -> tuple[list[tuple[Any, ...]], list[list[_Kept]]]:
        """Count the rows an earlier run of this import landed, and return only the rest to insert."""
        through = self.resume_through
        report = self.report
        kept_rows: list[tuple[Any, ...]] = []
        kept_phones: list[list[_Kept]] = []
        for contact, kept in zip(rows, phones, strict=True):
            if contact[2] <= through:
                report.imported += 1
                report.phones_imported += len(kept)
                report.phones_without_timezone += sum(1 for p in kept if not p[2])
            else:
                kept_rows.append(contact)
                kept_phones.append(kept)
        return kept_rows, kept_phones

    def _commit(self) -> None:
        report = self.report
        imported = sum(len(rows) for rows, _ in self.uncommitted)
        values: dict[str, Any] = {
            "rows_total": report.rows_read,
            "rows_imported": report.imported + imported,
            "rows_rejected": report.rejected,
        }
        if self.row > self.resume_through:  # a replayed stretch moves nothing: it is committed already
            values["rows_through"] = self.row
        if self.finishing:
            values["finished_at"] = func.coalesce(ContactList.finished_at, datetime.now(UTC))
        self.session.execute(update(ContactList).where(ContactList.id == self.list_id).values(**values))
        self.session.commit()
        for _, phones in self.uncommitted:
            for kept in phones:
                report.phones_imported += len(kept)
                report.phones_without_timezone += sum(1 for p in kept if not p[2])
        report.imported += imported
        self.uncommitted = []
        self.last_commit = time.perf_counter()
        if self.reject_file is not None:
            self.reject_file.flush()
        if self.on_commit is not None:
            self.on_commit(report)

    def _redo_uncommitted(self, writer: _Writer, *, ids_failed: bool) -> None:
        """Roll back the open transaction and insert its batches again, once."""
        self.session.rollback()
        rows = [row for batch, _ in self.uncommitted for row in batch]
        phones = [kept for _, batch in self.uncommitted for kept in batch]
        if ids_failed:
            writer.fast = False  # Core inserts with RETURNING from now on
            self.report.notes.append("contact ids were not consecutive; switched to INSERT ... RETURNING")
        else:
            # Another import into the same campaign landed some of these numbers
            # after this one loaded the campaign's numbers: skip them.
            rows, phones = self._drop_numbers_taken_meanwhile(rows, phones)
        self.uncommitted = [(rows, phones)]
        self._insert(writer, rows, phones)
        self._commit()

    def _drop_numbers_taken_meanwhile(
        self, rows: list[tuple[Any, ...]], phones: list[list[_Kept]]
    ) -> tuple[list[tuple[Any, ...]], list[list[_Kept]]]:
        e164s = [p[0] for kept in phones for p in kept]
        taken: set[str] = set()
        for start in range(0, len(e164s), 500):
            stmt = select(ContactPhone.e164).where(
                ContactPhone.campaign_id == self.campaign_id,
                ContactPhone.e164.in_(e164s[start : start + 500]),
            )
            taken.update(self.session.execute(stmt).scalars())
        kept_rows: list[tuple[Any, ...]] = []
        kept_phones: list[list[_Kept]] = []
        for contact, kept in zip(rows, phones, strict=True):
            for p in kept:
                if p[0] in taken:  # still in seen; _in_campaign wins over it from now on
                    self.taken.add(p[3])
            left = [p for p in kept if p[0] not in taken]
            if left:
                kept_rows.append(contact)
                kept_phones.append(left)
                continue
            self.report.duplicates += 1
            detail = f"{kept[0][1]} {kept[0][0]} was added to the campaign by another import meanwhile"
            self._reject(contact[2], "duplicate_in_campaign", detail, [])
        return kept_rows, kept_phones


def _csv_problem(message: str) -> str:
    """The csv module's complaint in the words of someone editing a spreadsheet."""
    if "new-line character seen in unquoted field" in message:
        return "a line break (carriage return) inside a cell that is not quoted"
    if "expected after" in message:
        return "text after a closing quote; quotes inside a quoted cell must be doubled"
    limit = re.search(r"field larger than field limit \((\d+)\)", message)
    if limit:
        return f"a cell longer than {int(limit.group(1)):,} characters"
    if "unexpected end of data" in message:
        return "the file ends inside a quoted cell"
    return message


def _is_phone(text: str, region: str | None) -> bool:
    try:
        analyze_phone(text, region)
    except PhoneError:
        return False
    return True


def _in_sorted(numbers: array[int], key: int) -> bool:
    if not numbers:
        return False
    i = bisect_left(numbers, key)
    return i < len(numbers) and numbers[i] == key


def _ragged(cells: list[str], ncols: int) -> bool:
    """Wrong cell count; extra cells that are all empty (a trailing comma) are tolerated."""
    n = len(cells)
    return n != ncols and (n < ncols or any(c.strip() for c in cells[ncols:]))


def _names(layout: _Layout) -> str:
    return ", ".join(repr(label) for _, label in layout.phones)


def _column_limits() -> dict[str, int]:
    limits: dict[str, int] = {}
    for name in _SCALAR_FIELDS:
        length = getattr(cast(Table, Contact.__table__).c[name].type, "length", None)
        limits[name] = int(length) if length else MAX_CELL_CHARS
    return limits


_LIMITS = _column_limits()
_CHECKED_FIELDS = frozenset({"priority", "timezone", "state"})
_NEW = ContactStatus.NEW.value
