"""The national DNC registry file: exact loading, malformed lines, compact lookups, age."""

from __future__ import annotations

import io
import random
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance import registry as reg
from compliance.registry import (
    BITMAP_BYTES,
    SPARSE_MAX,
    LoadReport,
    Registry,
    RegistryBuilder,
    RegistryError,
    load_registry_files,
    read_registry_lines,
)

DOWNLOADED = datetime(2026, 11, 30, tzinfo=UTC)


def build(tmp_path: Path, text: bytes, name: str = "reg.bin") -> tuple[Registry, LoadReport]:
    source = tmp_path / "registry.txt"
    source.write_bytes(text)
    info, report = load_registry_files([source], tmp_path / name, downloaded_at=DOWNLOADED)
    return Registry(info.path), report


def every_number(registry: Registry) -> set[int]:
    return {n for ac in registry.info.area_codes for n in registry.area_code_numbers(ac)}


def test_both_line_forms_are_read_and_only_the_listed_numbers_are_listed(tmp_path):
    registry, report = build(tmp_path, b"2015550123\n201,5550124\r\n  3125550000  \n")

    assert [registry.listed(n) for n in ("+12015550123", "+12015550124", "+13125550000")] == [True] * 3
    assert not registry.listed("+12015550125")
    assert not registry.listed("+13125550001")
    assert (report.lines, report.numbers, report.malformed) == (3, 3, 0)
    assert registry.numbers == 3
    registry.close()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"201555012", "wrong_length"),
        (b"20155501234", "wrong_length"),
        (b"12015550123", "wrong_length"),
        (b"201,555012", "wrong_length"),
        (b"2015,550123", "wrong_length"),
        (b"201-555-0123", "not_digits"),
        (b"(201) 5550123", "not_digits"),
        (b"201 5550123", "not_digits"),
        (b"AreaCode,Number", "not_digits"),
        (b"2015550l23", "not_digits"),
        (b"201,555,0123", "not_digits"),
        (b"+12015550123", "not_digits"),
        (b"\xd9\xa2015550123", "not_digits"),
        (b"1015550123", "bad_area_code"),
        (b"0015550123", "bad_area_code"),
        (b"2011550123", "bad_exchange"),
        (b"201,0550123", "bad_exchange"),
    ],
)
def test_a_malformed_line_is_reported_with_its_line_number_and_never_becomes_a_number(tmp_path, line, reason):
    registry, report = build(tmp_path, b"2125550100\n" + line + b"\n2125550101\n")

    assert report.malformed_by_reason == {reason: 1}
    assert [(p.line, p.reason) for p in report.problems] == [(2, reason)]
    assert every_number(registry) == {2125550100, 2125550101}
    registry.close()


_VALID = re.compile(rb"([2-9][0-9]{2}),?([2-9][0-9]{6})")


def reference_read(lines: list[bytes]) -> tuple[set[int], int]:
    """What the loader must find, written the obvious way: the numbers, and the count of malformed lines."""
    numbers, malformed = set(), 0
    for line in lines:
        text = line.strip()
        if not text:
            continue
        match = _VALID.fullmatch(text)
        if match and (len(text) == 10 or text[3:4] == b","):
            numbers.add(int(match.group(1) + match.group(2)))
        else:
            malformed += 1
    return numbers, malformed


def mutated_lines() -> st.SearchStrategy[bytes]:
    number = st.integers(2_000_000_000, 9_999_999_999).map(lambda n: b"%010d" % n)
    comma = number.map(lambda b: b[:3] + b"," + b[3:])
    noise = st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))
    cut = number.flatmap(lambda b: st.integers(0, 9).map(lambda i: b[:i] + b[i + 1 :]))
    grown = st.tuples(number, st.sampled_from([b"0", b"9", b"x", b" ", b","]), st.integers(0, 10)).map(
        lambda t: t[0][: t[2]] + t[1] + t[0][t[2] :]
    )
    return st.one_of(number, comma, noise, cut, grown, st.just(b""), st.just(b"  "))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(mutated_lines(), max_size=25), block=st.integers(1, 40), crlf=st.booleans())
def test_whatever_the_lines_the_registry_holds_exactly_the_well_formed_numbers(
    tmp_path, monkeypatch, lines, block, crlf
):
    monkeypatch.setattr(reg, "_READ_BLOCK", block)  # line ends fall across read blocks
    text = (b"\r\n" if crlf else b"\n").join(lines)
    builder = RegistryBuilder()
    report = LoadReport()

    read_registry_lines(builder, io.BytesIO(text), "t", report)

    expected, malformed = reference_read(lines)
    found = {ac * reg.LOCALS + local for ac, bm in builder.bitmaps.items() for local in reg._bitmap_locals(bm)}
    assert found == expected
    assert report.malformed == malformed
    assert report.lines == text.count(b"\n") + (1 if text and not text.endswith(b"\n") else 0)
    assert all(reference_read([lines[p.line - 1]])[1] == 1 for p in report.problems)  # the right line is named


def test_a_byte_order_mark_and_a_last_line_without_a_line_end_still_give_their_numbers(tmp_path):
    registry, report = build(tmp_path, b"\xef\xbb\xbf2015550123\n2015550124")

    assert every_number(registry) == {2015550123, 2015550124}
    assert report.malformed == 0
    registry.close()


def test_duplicates_and_blank_lines_are_counted_apart_from_malformed_lines(tmp_path):
    registry, report = build(tmp_path, b"2015550123\n\n201,5550123\n   \n2015550123\n")

    assert (report.numbers, report.duplicates, report.blank, report.malformed) == (3, 2, 2, 0)
    assert registry.numbers == 1
    registry.close()


def test_only_the_first_malformed_lines_are_kept_in_full_but_all_are_counted(tmp_path):
    source = tmp_path / "r.txt"
    source.write_bytes(b"2015550123\n" + b"junk\n" * 250)

    _, report = load_registry_files([source], tmp_path / "r.bin", downloaded_at=DOWNLOADED, problems_kept=5)

    assert report.malformed == 250
    assert [p.line for p in report.problems] == [2, 3, 4, 5, 6]
    assert str(report.problems[0]) == "r.txt:2: not_digits: 'junk'"


def test_zip_archives_of_text_files_are_read_member_by_member(tmp_path):
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("201.txt", "2015550123\n")
        out.writestr("312.txt", "312,5550000\nbad\n")

    info, report = load_registry_files([archive], tmp_path / "r.bin", downloaded_at=DOWNLOADED)

    assert info.numbers == 2
    assert report.sources == ["download.zip:201.txt", "download.zip:312.txt"]
    assert [str(p) for p in report.problems] == ["download.zip:312.txt:2: not_digits: 'bad'"]


def test_a_load_that_reads_no_number_leaves_the_previous_registry_in_place(tmp_path):
    registry, _ = build(tmp_path, b"2015550123\n")
    registry.close()
    empty = tmp_path / "garbage.txt"
    empty.write_bytes(b"garbage\nmore garbage\n")

    with pytest.raises(RegistryError, match="no number was read") as caught:
        load_registry_files([empty], tmp_path / "reg.bin", downloaded_at=DOWNLOADED)

    assert caught.value.report is not None and caught.value.report.malformed == 2
    with Registry(tmp_path / "reg.bin") as kept:
        assert kept.listed("+12015550123")


def test_a_file_that_cannot_be_read_stops_the_load_with_its_name(tmp_path):
    with pytest.raises(RegistryError, match=r"cannot read .*missing\.txt"):
        load_registry_files([tmp_path / "missing.txt"], tmp_path / "r.bin", downloaded_at=DOWNLOADED)
    assert not (tmp_path / "r.bin").exists()


@pytest.mark.parametrize(
    "e164", ["+1201555012", "+120155501234", "+442015550123", "2015550123", "+1201555O123", "+1２０１５５５０１２３"]
)
def test_text_that_is_not_a_ten_digit_north_american_number_is_never_listed(tmp_path, e164):
    registry, _ = build(tmp_path, b"2015550123\n")

    assert not registry.listed(e164)
    assert registry.listed_many([e164, "+12015550123"]) == [False, True]
    registry.close()


def test_covers_tells_the_area_codes_that_were_downloaded_from_those_that_were_not(tmp_path):
    registry, _ = build(tmp_path, b"2015550123\n")

    assert registry.covers("+12019999999")
    assert not registry.covers("+13125550123")
    assert not registry.covers("+442015550123")
    registry.close()


def test_a_dense_area_code_is_stored_as_a_bitmap_and_a_sparse_one_as_a_sorted_array(tmp_path):
    rng = random.Random(7)
    dense = bytearray(rng.randbytes(BITMAP_BYTES))
    builder = RegistryBuilder()
    builder.add_bitmap(212, bytes(dense))
    sparse = sorted(rng.sample(range(2_000_000, 10_000_000), 1000))
    for local in sparse:
        builder.add(201 * reg.LOCALS + local)

    info = builder.write(tmp_path / "r.bin", downloaded_at=DOWNLOADED)

    assert info.numbers == int.from_bytes(dense, "little").bit_count() + 1000
    assert info.numbers > SPARSE_MAX
    with Registry(info.path) as registry:
        assert registry._bitmaps[212] is not None and registry._arrays[212] is None
        assert registry._bitmaps[201] is None and registry._arrays[201] is not None
        for local in rng.sample(range(reg.LOCALS), 2000):
            expected = bool(dense[local >> 3] >> (local & 7) & 1)
            assert registry.listed(f"+1212{local:07d}") is expected
        assert list(registry.area_code_numbers(201)) == [201 * reg.LOCALS + n for n in sparse]
        assert registry.listed_many([f"+1201{n:07d}" for n in sparse[:50]]) == [True] * 50
        assert not registry.listed("+12010000000")
        registry.check()
    assert info.size_bytes < BITMAP_BYTES + 4 * 1000 + 64 * 1024


def test_the_registry_age_counts_from_the_download_date(tmp_path):
    registry, _ = build(tmp_path, b"2015550123\n")

    assert registry.registry_age_days(DOWNLOADED + timedelta(days=31)) == 31.0
    assert registry.registry_age_days(DOWNLOADED + timedelta(days=31, hours=12)) == 31.5
    assert registry.downloaded_at == DOWNLOADED
    assert registry.version.startswith("2026-11-30/")
    with pytest.raises(ValueError, match="aware"):
        registry.registry_age_days(datetime(2026, 12, 1))
    registry.close()


def test_a_download_date_in_the_future_is_refused(tmp_path):
    builder = RegistryBuilder()
    builder.add(2015550123)

    with pytest.raises(RegistryError, match="in the future"):
        builder.write(tmp_path / "r.bin", downloaded_at=datetime.now(UTC) + timedelta(days=3))


def test_a_reader_of_the_old_copy_keeps_it_whole_while_a_new_copy_replaces_the_file(tmp_path):
    old, _ = build(tmp_path, b"2015550123\n")

    new, _ = build(tmp_path, b"2015550124\n")

    assert old.listed("+12015550123") and not old.listed("+12015550124")
    assert new.listed("+12015550124") and not new.listed("+12015550123")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    old.close()
    new.close()


def test_a_truncated_or_foreign_file_is_refused_when_opened(tmp_path):
    registry, _ = build(tmp_path, b"2015550123\n")
    registry.close()
    data = (tmp_path / "reg.bin").read_bytes()
    (tmp_path / "short.bin").write_bytes(data[: len(data) - 10])
    (tmp_path / "foreign.bin").write_bytes(b"NOTAREGI" + data[8:])

    with pytest.raises(RegistryError, match="damaged"):
        Registry(tmp_path / "short.bin")
    with pytest.raises(RegistryError, match="wrong magic"):
        Registry(tmp_path / "foreign.bin")
    with pytest.raises(RegistryError, match="cannot open"):
        Registry(tmp_path / "absent.bin")


def test_check_finds_a_flipped_bit_in_the_numbers(tmp_path):
    registry, _ = build(tmp_path, b"2015550123\n2015550124\n")
    registry.check()
    registry.close()
    path = tmp_path / "reg.bin"
    data = bytearray(path.read_bytes())
    data[reg._DATA_AT] ^= 0x01
    path.write_bytes(bytes(data))

    with Registry(path) as damaged, pytest.raises(RegistryError, match="damaged"):
        damaged.check()
