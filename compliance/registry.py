"""The national do-not-call registry as one memory-mapped file.

The US registry holds about 250 million numbers.  A Python set of them would
need some 20 GB, so the registry is a file laid out for lookups in place:

* one section per area code present in the downloaded files, each either a
  **bitmap** over the ten million local numbers of the area code (1,250,000
  bytes, one bit a number: the answer is one byte read) or, when the area
  code holds few numbers, a **sorted array** of its local numbers as 32-bit
  integers (binary search: at most 19 reads).  A section takes whichever is
  smaller: an area code with more than 312,500 numbers gets a bitmap.  The
  whole registry (about 400 area codes, dense) is then about 500 MB;
* the file is opened with ``mmap`` read-only, so every process on the host
  shares one copy in the page cache, opening costs nothing, and a lookup
  touches one page;
* a new download is written to a temporary file and renamed over the old one,
  so a process never sees half a registry; processes that still map the old
  file keep a consistent old copy until they reopen.

File layout (little-endian):

====== ======================================================================
offset content
====== ======================================================================
0      magic ``ODDNCREG``, format version (u32), flags (u32), total numbers
       (u64), offset and length of the metadata (u64, u64)
64     directory: 1,000 entries of 16 bytes, one per area code 000-999:
       kind (u8: 0 absent, 1 bitmap, 2 sorted array), 3 bytes padding, count
       of numbers (u32), offset of the section (u64)
16384  the sections, each aligned to 4096 bytes
end    the metadata: UTF-8 JSON with the download date, the source files,
       the area codes covered and the SHA-256 of the directory and sections
====== ======================================================================

Text files from the registry
----------------------------

``load_registry_files`` reads the registry's downloadable lists (plain text,
or ``.zip`` archives of them, one number a line).  A line is a number when,
once spaces and the line end are removed, it is exactly one of:

* ten digits, area code then number: ``2015550123``;
* three digits, a comma, seven digits: ``201,5550123``.

The area code and the exchange must start with 2-9 (North American plan).
Anything else is *malformed*: counted by reason and reported with its file and
line number, never fatal to the load, and never read as some other number
(no padding, no dropped digits, no guessed country code).  Blank lines are
counted and skipped.  Reasons:

``not_digits``     characters other than digits (and the one comma)
``wrong_length``   digits, but not 10 (or not 3 + 7 around the comma)
``bad_area_code``  the area code starts with 0 or 1
``bad_exchange``   the exchange (the three digits after the area code) starts with 0 or 1

The registry copy's download date is recorded in the file and
``registry_age_days(now)`` gives its age: a telemarketing call may only be
scrubbed against a copy at most 31 days old (47 CFR 64.1200(c)(2)(i)(D),
16 CFR 310.4(b)(3)(iv)); the dial gate enforces it with ``registry_stale``.

Only the standard library is used, so this module belongs to the pure core.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import mmap
import os
import re
import struct
import sys
import zipfile
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from compliance.gate import RegistryAnswer

__all__ = [
    "MALFORMED_REASONS",
    "REGISTRY_MAX_AGE_DAYS",
    "REGISTRY_NAME",
    "LoadProblem",
    "LoadReport",
    "Registry",
    "RegistryBuilder",
    "RegistryError",
    "RegistryInfo",
    "load_registry_files",
    "read_registry_lines",
]

#: The name the rule set gives this registry.
REGISTRY_NAME = "US"

#: The oldest registry copy a telemarketing call may be scrubbed against.
REGISTRY_MAX_AGE_DAYS = 31

MALFORMED_REASONS = ("not_digits", "wrong_length", "bad_area_code", "bad_exchange")

MAGIC = b"ODDNCREG"
FORMAT_VERSION = 1
AREA_CODES = 1000
LOCALS = 10_000_000  # local numbers (exchange + line) in one area code
BITMAP_BYTES = LOCALS // 8
SPARSE_MAX = BITMAP_BYTES // 4  # more numbers than this: a bitmap is smaller than the array
KIND_ABSENT, KIND_BITMAP, KIND_SORTED = 0, 1, 2

_HEADER = struct.Struct("<8sIIQQQ")
_ENTRY = struct.Struct("<BxxxIQ")
_DIRECTORY_AT = 64
_DATA_AT = 16384
_ALIGN = 4096
_NATIONAL_MIN = 2_000_000_000  # area codes start with 2-9
_READ_BLOCK = 1 << 24
_PROBLEMS_KEPT = 100

# Bit positions set in each byte value, to list the numbers of a sparse bitmap.
_BITS = tuple(tuple(bit for bit in range(8) if value >> bit & 1) for value in range(256))
_NONZERO = re.compile(rb"[^\x00]")


class RegistryError(Exception):
    """The registry file cannot be written, opened or trusted; the message says why."""

    def __init__(self, message: str, report: LoadReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True, slots=True)
class RegistryInfo:
    """What a registry file holds, from its header and metadata."""

    path: str
    downloaded_at: datetime
    built_at: datetime
    numbers: int
    area_codes: tuple[int, ...]
    digest: str  # SHA-256 of the directory and sections
    sources: tuple[str, ...]
    size_bytes: int

    @property
    def version(self) -> str:
        """A short name for this copy, for audit records: download date and digest prefix."""
        return f"{self.downloaded_at:%Y-%m-%d}/{self.digest[:12]}"


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{what} must be an aware datetime")
    return value.astimezone(UTC)


class Registry:
    """A registry file opened for lookups; share it between threads, open it in every process.

    ``listed`` answers for E.164 text (``+12015550123``); numbers outside the
    North American plan, or malformed text, are never listed (they cannot be
    on the US registry).  ``covers`` says whether the number's area code was
    in the downloaded files at all: an area code that was not downloaded
    cannot have been scrubbed.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        try:
            self._file = open(self.path, "rb")  # noqa: SIM115 - kept open for the life of the map
        except OSError as error:
            raise RegistryError(f"cannot open the registry file {self.path}: {error.strerror or error}") from error
        try:
            size = os.fstat(self._file.fileno()).st_size
            if size < _DATA_AT:
                raise RegistryError(f"{self.path} is not a registry file (too short)")
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            self._bitmaps: list[memoryview | None] = [None] * AREA_CODES
            self._arrays: list[memoryview | None] = [None] * AREA_CODES
            self.info = self._read_layout(size)
        except BaseException:
            self.close()
            raise

    def _read_layout(self, size: int) -> RegistryInfo:
        magic, version, _flags, total, meta_at, meta_len = _HEADER.unpack_from(self._map, 0)
        if magic != MAGIC:
            raise RegistryError(f"{self.path} is not a registry file (wrong magic)")
        if version != FORMAT_VERSION:
            raise RegistryError(f"{self.path} has registry format {version}; this dialer reads {FORMAT_VERSION}")
        if meta_at + meta_len > size or meta_at < _DATA_AT:
            raise RegistryError(f"{self.path} is truncated or damaged (metadata out of bounds)")
        try:
            meta = json.loads(bytes(self._map[meta_at : meta_at + meta_len]).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RegistryError(f"{self.path} is damaged (unreadable metadata)") from error
        if meta.get("byteorder") != sys.byteorder:
            raise RegistryError(
                f"{self.path} was built on a {meta.get('byteorder')}-endian machine: load it again here"
            )
        view = memoryview(self._map)
        counted = 0
        area_codes = []
        for area_code in range(AREA_CODES):
            kind, count, offset = _ENTRY.unpack_from(self._map, _DIRECTORY_AT + area_code * _ENTRY.size)
            if kind == KIND_ABSENT:
                continue
            length = BITMAP_BYTES if kind == KIND_BITMAP else 4 * count
            if kind not in (KIND_BITMAP, KIND_SORTED) or offset < _DATA_AT or offset + length > meta_at:
                raise RegistryError(f"{self.path} is damaged (area code {area_code:03d} out of bounds)")
            section = view[offset : offset + length]
            if kind == KIND_BITMAP:
                self._bitmaps[area_code] = section
            else:
                self._arrays[area_code] = section.cast("I")
            area_codes.append(area_code)
            counted += count
        if counted != total or counted != meta.get("numbers"):
            raise RegistryError(f"{self.path} is damaged (the counts disagree)")
        try:
            return RegistryInfo(
                path=self.path,
                downloaded_at=_aware(datetime.fromisoformat(meta["downloaded_at"]), "downloaded_at"),
                built_at=datetime.fromisoformat(meta["built_at"]),
                numbers=total,
                area_codes=tuple(area_codes),
                digest=str(meta["digest"]),
                sources=tuple(meta.get("sources", ())),
                size_bytes=size,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise RegistryError(f"{self.path} is damaged (incomplete metadata: {error})") from error

    # -- lookups -----------------------------------------------------------------

    def listed(self, e164: str) -> bool:
        """Whether the number is on the registry; False for anything that is not +1 and ten digits."""
        national = _national(e164)
        return national is not None and self.listed_national(national)

    def listed_national(self, national: int) -> bool:
        """Whether the ten-digit North American number (area code first) is on the registry."""
        if not _NATIONAL_MIN <= national < 10_000_000_000:
            return False
        area_code, local = divmod(national, LOCALS)
        bitmap = self._bitmaps[area_code]
        if bitmap is not None:
            return bool(bitmap[local >> 3] >> (local & 7) & 1)
        numbers = self._arrays[area_code]
        if numbers is None:
            return False
        i = bisect_left(numbers, local)
        return i < len(numbers) and numbers[i] == local

    def listed_many(self, numbers: Iterable[str]) -> list[bool]:
        """``listed`` for each number, in order: the scrub's loop, with the lookups inlined."""
        bitmaps, arrays = self._bitmaps, self._arrays
        out: list[bool] = []
        append = out.append
        for e164 in numbers:
            national = _national(e164)
            if national is None or national < _NATIONAL_MIN:
                append(False)
                continue
            area_code, local = divmod(national, LOCALS)
            bitmap = bitmaps[area_code]
            if bitmap is not None:
                append(bool(bitmap[local >> 3] >> (local & 7) & 1))
                continue
            sorted_numbers = arrays[area_code]
            if sorted_numbers is None:
                append(False)
                continue
            i = bisect_left(sorted_numbers, local)
            append(i < len(sorted_numbers) and sorted_numbers[i] == local)
        return out

    def covers(self, e164: str) -> bool:
        """Whether the number's area code was in the downloaded files (so a scrub could find it)."""
        national = _national(e164)
        if national is None or national < _NATIONAL_MIN:
            return False
        area_code = national // LOCALS
        return self._bitmaps[area_code] is not None or self._arrays[area_code] is not None

    def lookup(self, registry: str, e164: str) -> RegistryAnswer | None:
        """The dial gate's question (``compliance.gate.NationalRegistry``): this file is the "US" registry.

        ``copy_at`` is the download date when the number's area code was in the
        downloaded files, None when it was not (nothing could be scrubbed).
        """
        if registry != REGISTRY_NAME:
            return None
        return RegistryAnswer(self.listed(e164), self.info.downloaded_at if self.covers(e164) else None)

    def registry_age_days(self, now: datetime) -> float:
        """Days since this copy was downloaded, as of ``now`` (aware)."""
        return (_aware(now, "now") - self.info.downloaded_at).total_seconds() / 86400.0

    @property
    def downloaded_at(self) -> datetime:
        return self.info.downloaded_at

    @property
    def numbers(self) -> int:
        return self.info.numbers

    @property
    def version(self) -> str:
        return self.info.version

    def area_code_numbers(self, area_code: int) -> Iterator[int]:
        """The ten-digit numbers listed in one area code, in order (for exports and checks)."""
        base = area_code * LOCALS
        numbers = self._arrays[area_code]
        if numbers is not None:
            for local in numbers:
                yield base + local
            return
        bitmap = self._bitmaps[area_code]
        if bitmap is not None:
            for local in _bitmap_locals(bitmap):
                yield base + local

    def check(self) -> None:
        """Read the whole file and compare it with its digest and invariants; RegistryError if damaged.

        Costs a read of the file (about a second for the full registry), so it
        runs after a load and on request, not at every open.
        """
        digest = hashlib.sha256()
        digest.update(bytes(self._map[_DIRECTORY_AT : _DIRECTORY_AT + AREA_CODES * _ENTRY.size]))
        for area_code in range(AREA_CODES):
            bitmap, numbers = self._bitmaps[area_code], self._arrays[area_code]
            if bitmap is not None:
                digest.update(bitmap)
            elif numbers is not None:
                digest.update(numbers)
                if any(numbers[i] >= numbers[i + 1] for i in range(len(numbers) - 1)):
                    raise RegistryError(f"{self.path} is damaged (area code {area_code:03d} is out of order)")
                if len(numbers) and numbers[len(numbers) - 1] >= LOCALS:
                    raise RegistryError(f"{self.path} is damaged (area code {area_code:03d} holds a bad number)")
        if digest.hexdigest() != self.info.digest:
            raise RegistryError(f"{self.path} is damaged (its content does not match its digest)")

    def close(self) -> None:
        held: list[list[memoryview | None]] = [getattr(self, "_bitmaps", []), getattr(self, "_arrays", [])]
        for sections in held:
            for i, section in enumerate(sections):
                if section is not None:
                    section.release()
                    sections[i] = None
        if getattr(self, "_map", None) is not None:
            # A view still held (by a traceback) keeps the map open; it closes when the view goes.
            with contextlib.suppress(BufferError):
                self._map.close()
        self._file.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _national(e164: str) -> int | None:
    """The ten national digits of a +1 number as an int, or None."""
    if len(e164) != 12 or not e164.startswith("+1"):
        return None
    digits = e164[2:]
    if not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits)


def _bitmap_locals(bitmap: bytes | bytearray | memoryview) -> Iterator[int]:
    """The positions of the set bits, in order; fast when few are set (scans in C)."""
    bits = _BITS
    for match in _NONZERO.finditer(bitmap):
        index = match.start()
        base = index << 3
        for bit in bits[bitmap[index]]:
            yield base + bit


# -- building ----------------------------------------------------------------------


class RegistryBuilder:
    """Collects numbers by area code, then writes the registry file in one go.

    Each area code being built holds a 1.25 MB bitmap in memory, so building
    the whole US registry (about 400 area codes) needs about 500 MB whatever
    the order of the input lines.
    """

    def __init__(self) -> None:
        self.bitmaps: dict[int, bytearray] = {}

    def bitmap(self, area_code: int) -> bytearray:
        """The bitmap of one area code, created empty (and so covered) when new."""
        if not 200 <= area_code < AREA_CODES:
            raise ValueError(f"area code {area_code} is not a North American area code")
        bitmap = self.bitmaps.get(area_code)
        if bitmap is None:
            bitmap = self.bitmaps[area_code] = bytearray(BITMAP_BYTES)
        return bitmap

    def add(self, national: int) -> bool:
        """Add one ten-digit number; False when it was there already."""
        area_code, local = divmod(national, LOCALS)
        bitmap = self.bitmap(area_code)
        i, bit = local >> 3, 1 << (local & 7)
        if bitmap[i] & bit:
            return False
        bitmap[i] |= bit
        return True

    def add_bitmap(self, area_code: int, bits: bytes) -> None:
        """OR a whole area code's bitmap in (bit ``n`` of byte ``n >> 3`` is local number ``n``)."""
        if len(bits) != BITMAP_BYTES:
            raise ValueError(f"an area code bitmap has {BITMAP_BYTES} bytes, not {len(bits)}")
        bitmap = self.bitmap(area_code)
        if _NONZERO.search(bitmap) is None:
            bitmap[:] = bits
        else:
            merged = int.from_bytes(bitmap, "little") | int.from_bytes(bits, "little")
            bitmap[:] = merged.to_bytes(BITMAP_BYTES, "little")

    def write(
        self,
        path: str | os.PathLike[str],
        *,
        downloaded_at: datetime,
        sources: Sequence[str] = (),
        built_at: datetime | None = None,
    ) -> RegistryInfo:
        """Write the registry file atomically (a temporary file renamed over ``path``)."""
        downloaded_at = _aware(downloaded_at, "downloaded_at")
        built_at = _aware(built_at or datetime.now(UTC), "built_at")
        if downloaded_at > built_at + timedelta(days=1):
            raise RegistryError(f"the download date {downloaded_at:%Y-%m-%d} is in the future")
        target = Path(path)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with open(temporary, "wb") as out:
                total = self._write_to(out, downloaded_at, built_at, sources)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        with Registry(target) as written:
            if written.numbers != total:
                raise RegistryError(f"{target} was not written whole")
            return written.info

    def _write_to(self, out: IO[bytes], downloaded_at: datetime, built_at: datetime, sources: Sequence[str]) -> int:
        directory = bytearray(AREA_CODES * _ENTRY.size)
        sections: list[tuple[int, bytes | bytearray | array[int]]] = []
        offset = _DATA_AT
        total = 0
        for area_code in sorted(self.bitmaps):
            bitmap = self.bitmaps[area_code]
            count = int.from_bytes(bitmap, "little").bit_count()
            data: bytes | bytearray | array[int]
            if count > SPARSE_MAX:
                kind, data, length = KIND_BITMAP, bitmap, BITMAP_BYTES
            else:
                kind, data = KIND_SORTED, array("I", _bitmap_locals(bitmap))
                length = 4 * count
            _ENTRY.pack_into(directory, area_code * _ENTRY.size, kind, count, offset)
            sections.append((offset, data))
            offset = _aligned(offset + length)
            total += count
        digest = hashlib.sha256(directory)
        out.write(bytes(_DATA_AT))
        for at, data in sections:
            out.seek(at)
            out.write(data)
            digest.update(data)
        meta = json.dumps(
            {
                "format": FORMAT_VERSION,
                "downloaded_at": downloaded_at.isoformat(),
                "built_at": built_at.isoformat(),
                "numbers": total,
                "area_codes": sorted(self.bitmaps),
                "digest": digest.hexdigest(),
                "sources": list(sources),
                "byteorder": sys.byteorder,
            },
            sort_keys=True,
        ).encode("utf-8")
        meta_at = _aligned(max(offset, out.tell()))
        out.seek(meta_at)
        out.write(meta)
        out.seek(0)
        out.write(_HEADER.pack(MAGIC, FORMAT_VERSION, 0, total, meta_at, len(meta)))
        out.seek(_DIRECTORY_AT)
        out.write(directory)
        return total


def _aligned(offset: int) -> int:
    return -(-offset // _ALIGN) * _ALIGN


# -- reading the registry's text files ------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """A malformed line: where it is, why it was refused, and what it said (shortened)."""

    source: str
    line: int
    reason: str
    text: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}: {self.text!r}"


@dataclass(slots=True)
class LoadReport:
    """What a load read: counted lines by outcome, and the first malformed lines in full."""

    sources: list[str] = field(default_factory=list)
    lines: int = 0
    numbers: int = 0  # well-formed lines (duplicates included)
    duplicates: int = 0
    blank: int = 0
    malformed: int = 0
    malformed_by_reason: dict[str, int] = field(default_factory=dict)
    problems: list[LoadProblem] = field(default_factory=list)
    problems_kept: int = _PROBLEMS_KEPT

    def problem(self, source: str, line: int, reason: str, text: bytes) -> None:
        self.malformed += 1
        self.malformed_by_reason[reason] = self.malformed_by_reason.get(reason, 0) + 1
        if len(self.problems) < self.problems_kept:
            shown = text[:40].decode("utf-8", "replace") + ("..." if len(text) > 40 else "")
            self.problems.append(LoadProblem(source, line, reason, shown))

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": list(self.sources),
            "lines": self.lines,
            "numbers": self.numbers,
            "duplicates": self.duplicates,
            "blank": self.blank,
            "malformed": self.malformed,
            "malformed_by_reason": dict(sorted(self.malformed_by_reason.items())),
            "problems": [
                {"source": p.source, "line": p.line, "reason": p.reason, "text": p.text} for p in self.problems
            ],
        }


def _classify(line: bytes) -> int | str | None:
    """The ten-digit number of a line, None for a blank line, or the reason it is malformed."""
    text = line.strip()
    if not text:
        return None
    if len(text) == 11 and text[3:4] == b",":
        digits = text[:3] + text[4:]
        if not digits.isdigit():
            return "not_digits"
    elif text.isdigit():
        digits = text
    else:
        head, comma, tail = text.partition(b",")
        if comma and head.isdigit() and tail.isdigit():
            return "wrong_length"
        return "not_digits"
    if len(digits) != 10:
        return "wrong_length"
    if digits[0] < 0x32:
        return "bad_area_code"
    if digits[3] < 0x32:
        return "bad_exchange"
    return int(digits)


def read_registry_lines(builder: RegistryBuilder, stream: IO[bytes], source: str, report: LoadReport) -> None:
    """Add every number of one text stream to ``builder``, counting lines in ``report``.

    The fast path takes the common lines (ten digits, or three, a comma and
    seven, area code and exchange starting with 2-9) with a handful of byte
    operations; every other line goes through ``_classify``, the one
    definition of what a line means, so a malformed line is named with its
    line number and never read as a number.
    """
    report.sources.append(source)
    bitmaps = builder.bitmaps
    lineno = 0
    duplicates = numbers = blank = 0
    carry = b""
    first = True
    last_area_code, bitmap = -1, bytearray()
    while True:
        block = stream.read(_READ_BLOCK)
        if not block:
            break
        if first:
            first = False
            block = block.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark is not part of line 1
        block = carry + block
        cut = block.rfind(b"\n")
        if cut < 0:
            carry = block
            continue
        carry = block[cut + 1 :]
        chunk = block[:cut]
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")
        for line in chunk.split(b"\n"):
            lineno += 1
            size = len(line)
            if size == 10 and line.isdigit() and line[0] > 0x31 and line[3] > 0x31:
                national = int(line)
            elif size == 11 and line[3] == 0x2C and line[0] > 0x31 and line[4] > 0x31 and (
                digits := line[:3] + line[4:]
            ).isdigit():
                national = int(digits)
            else:
                parsed = _classify(line)
                if parsed is None:
                    blank += 1
                    continue
                if isinstance(parsed, str):
                    report.problem(source, lineno, parsed, line)
                    continue
                national = parsed
            numbers += 1
            area_code = national // 10_000_000
            local = national - area_code * 10_000_000
            if area_code != last_area_code:  # registry files come sorted: the area code rarely changes
                found = bitmaps.get(area_code)
                bitmap = builder.bitmap(area_code) if found is None else found
                last_area_code = area_code
            i = local >> 3
            bit = 1 << (local & 7)
            byte = bitmap[i]
            if byte & bit:
                duplicates += 1
            else:
                bitmap[i] = byte | bit
    if carry:  # the last line had no line end
        lineno += 1
        parsed = _classify(carry)
        if parsed is None:
            blank += 1
        elif isinstance(parsed, str):
            report.problem(source, lineno, parsed, carry)
        else:
            numbers += 1
            duplicates += not builder.add(parsed)
    report.lines += lineno
    report.numbers += numbers
    report.duplicates += duplicates
    report.blank += blank


def _open_sources(path: Path) -> Iterator[tuple[str, IO[bytes]]]:
    """The text streams in one file: the file itself, or every file inside a .zip archive."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if member.is_dir():
                    continue
                with archive.open(member) as stream:
                    yield f"{path.name}:{member.filename}", stream
        return
    with open(path, "rb") as stream:
        yield path.name, stream


def load_registry_files(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    downloaded_at: datetime,
    problems_kept: int = _PROBLEMS_KEPT,
) -> tuple[RegistryInfo, LoadReport]:
    """Read the registry's downloaded files and write them as one registry file at ``out``.

    Malformed lines are counted and reported, never fatal.  A file that cannot
    be read, or a load that finds no number at all, raises RegistryError and
    leaves any registry already at ``out`` as it was: an incomplete copy must
    not replace a complete one silently.
    """
    report = LoadReport(problems_kept=problems_kept)
    builder = RegistryBuilder()
    for path in map(Path, paths):
        try:
            for source, stream in _open_sources(path):
                read_registry_lines(builder, stream, source, report)
        except (OSError, zipfile.BadZipFile) as error:
            raise RegistryError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}", report) from error
    if report.numbers == 0:
        raise RegistryError(
            f"no number was read from {', '.join(map(str, paths))} "
            f"({report.malformed:,} malformed lines): the registry was not replaced",
            report,
        )
    info = builder.write(out, downloaded_at=downloaded_at, sources=report.sources)
    return info, report


def registry_lines(numbers: Iterable[int]) -> io.BytesIO:
    """A registry text file (ten digits a line) in memory, for tests and tools."""
    return io.BytesIO(b"".join(b"%010d\n" % n for n in numbers))
