from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaigns.csv_safety import FORMULA_TRIGGERS, neutralize_cell, safe_csv_writer


@pytest.mark.parametrize(
    "value",
    [
        "=1+2",
        '=HYPERLINK("http://evil.example","Click")',
        "+12125550123",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+2",
        "\r=1+2",
        "  =1+2",
        "\uff1d1+2",
    ],
)
def test_a_cell_a_spreadsheet_would_run_as_a_formula_gets_a_leading_apostrophe(value):
    assert neutralize_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["John", "", "   ", "212 555 0123", "O'Brien", "a=b", "'already quoted"])
def test_ordinary_text_is_written_as_it_is(value):
    assert neutralize_cell(value) == value


def test_numbers_and_none_are_written_as_data_not_as_formulas():
    assert neutralize_cell(-5) == "-5"
    assert neutralize_cell(2.5) == "2.5"
    assert neutralize_cell(None) == ""
    assert neutralize_cell(True) == "True"


@given(st.text())
def test_no_neutralized_text_starts_with_a_formula_trigger_and_the_original_is_recoverable(value):
    cell = neutralize_cell(value)

    assert not cell.lstrip(" ").startswith(FORMULA_TRIGGERS)
    assert cell in (value, "'" + value)


def test_the_safe_writer_neutralizes_every_cell_and_still_quotes_like_csv():
    buffer = io.StringIO(newline="")
    writer = safe_csv_writer(buffer)

    writer.writerow(["row", "=cmd|' /C calc'!A0", 'say "hi", then\nleave', -3])
    writer.writerows([["@x", "plain"]])

    rows = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert rows == [["row", "'=cmd|' /C calc'!A0", 'say "hi", then\nleave', "-3"], ["'@x", "plain"]]


def test_the_safe_writer_takes_the_csv_writer_options():
    buffer = io.StringIO(newline="")

    safe_csv_writer(buffer, delimiter=";", lineterminator="\n").writerow(["a", "+b"])

    assert buffer.getvalue() == "a;'+b\n"
