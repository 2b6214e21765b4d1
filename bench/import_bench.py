"""Benchmark of the contact import: rows per second and peak memory on a large list.

A million-row list must import without holding the file in memory and fast
enough to run while agents wait.  This script writes a realistic list (US
numbers in the formats people type, a second phone on some rows, about 1% bad
rows, some duplicates, formula-looking notes) into a temporary directory,
imports it into a fresh SQLite database through the real schema, and prints
the figures as text and as one JSON object.

    python bench/import_bench.py                 # 1,000,000 rows
    python bench/import_bench.py --rows 100000   # quicker
    python bench/import_bench.py --json          # only the JSON object
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from campaigns import services
from campaigns.db import ensure_schema, make_engine, make_session_factory
from campaigns.importer import import_contacts

# Area codes from every US time zone, so the candidate-zone lookup sees real variety.
# fmt: off
AREA_CODES = (
    "201", "202", "203", "205", "206", "207", "208", "209", "210", "212", "213", "214", "215", "216", "217", "218",
    "219", "224", "225", "228", "229", "231", "234", "239", "240", "248", "251", "252", "253", "254", "256", "260",
    "262", "267", "269", "270", "276", "281", "301", "302", "303", "304", "305", "307", "308", "309", "310", "312",
    "313", "314", "315", "316", "317", "318", "319", "320", "321", "323", "325", "330", "334", "336", "337", "339",
    "347", "351", "352", "360", "361", "385", "386", "401", "402", "404", "405", "406", "407", "408", "409", "410",
    "412", "413", "414", "415", "417", "419", "423", "424", "425", "430", "432", "434", "435", "440", "443", "469",
    "478", "479", "480", "484", "501", "502", "503", "504", "505", "507", "508", "509", "510", "512", "513", "515",
    "516", "517", "518", "520", "530", "540", "541", "551", "559", "561", "562", "563", "567", "570", "571", "573",
    "574", "575", "580", "585", "586", "601", "602", "603", "605", "606", "607", "608", "609", "610", "612", "614",
    "615", "616", "617", "618", "619", "620", "623", "626", "630", "631", "636", "641", "646", "650", "651", "660",
    "661", "662", "678", "682", "701", "702", "703", "704", "706", "707", "708", "712", "713", "714", "715", "716",
    "717", "718", "719", "720", "724", "727", "731", "732", "734", "740", "754", "757", "760", "763", "765", "770",
    "772", "773", "774", "775", "781", "785", "786", "801", "802", "803", "804", "805", "806", "808", "810", "812",
    "813", "814", "815", "816", "817", "818", "828", "830", "831", "832", "843", "845", "847", "848", "850", "856",
    "857", "858", "859", "860", "862", "863", "864", "865", "870", "872", "878", "901", "903", "904", "906", "907",
    "908", "909", "910", "912", "913", "914", "915", "916", "917", "918", "919", "920", "925", "928", "931", "936",
    "937", "940", "941", "947", "949", "951", "952", "954", "956", "970", "971", "972", "973", "978", "979", "980",
    "985", "989",
)
FIRST = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
    "William", "Elizabeth", "David", "Barbara", "Richard", "Susan",
)
LAST = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller",
    "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Wilson",
)
STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
)
# fmt: on
FORMATS = (
    "({a}) {b}-{c}",
    "{a}-{b}-{c}",
    "{a}.{b}.{c}",
    "{a}{b}{c}",
    "+1 {a} {b} {c}",
    "1-{a}-{b}-{c}",
    "+1{a}{b}{c}",
)
HEADER = ["Lead ID", "First Name", "Last Name", "Phone Number", "Mobile", "Email", "State", "ZIP", "Notes"]


def _number(rng: random.Random) -> tuple[str, str, str]:
    exchange = rng.randint(200, 999)
    while exchange % 100 == 11:  # N11 codes are services, not exchanges
        exchange = rng.randint(200, 999)
    return rng.choice(AREA_CODES), str(exchange), f"{rng.randint(0, 9999):04d}"


def _formatted(rng: random.Random, parts: tuple[str, str, str]) -> str:
    a, b, c = parts
    return rng.choice(FORMATS).format(a=a, b=b, c=c)


def generate(path: Path, rows: int, seed: int = 7) -> dict[str, int]:
    """Write the list; returns how many rows of each kind were planted."""
    rng = random.Random(seed)
    planted = {"bad": 0, "duplicates": 0, "ragged": 0, "missing_phone": 0}
    recent: list[tuple[str, str, str]] = []
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            parts = _number(rng)
            phone = _formatted(rng, parts)
            mobile = _formatted(rng, _number(rng)) if rng.random() < 0.3 else ""
            first, last = rng.choice(FIRST), rng.choice(LAST)
            notes = '=HYPERLINK("http://example.com")' if rng.random() < 0.001 else ""
            roll = rng.random()
            if roll < 0.005 and recent:  # the same person again, typed differently
                phone, mobile = _formatted(rng, rng.choice(recent)), ""
                planted["duplicates"] += 1
            elif roll < 0.010:
                phone, mobile = rng.choice(("555-1234", "12345", "n/a", "000-000-0000", "1-900-555-0199")), ""
                planted["bad"] += 1
            elif roll < 0.012:
                phone, mobile = "", ""
                planted["missing_phone"] += 1
            elif roll < 0.013:
                out.writerow([f"L{i}", first, last, phone])
                planted["ragged"] += 1
                continue
            if len(recent) < 1000:
                recent.append(parts)
            elif rng.random() < 0.01:
                recent[rng.randrange(1000)] = parts
            out.writerow(
                [
                    f"L{i}",
                    first,
                    last,
                    phone,
                    mobile,
                    f"{first}.{last}{i}@example.com".lower(),
                    rng.choice(STATES),
                    f"{rng.randint(501, 99950):05d}",
                    notes,
                ]
            )
    return planted


def _rss_mib() -> float:
    # Linux reports kilobytes, macOS bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run(rows: int, keep: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        where = keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        csv_path, db_path, rejects = where / "contacts.csv", where / "bench.db", where / "rejects.csv"
        for stale in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
            stale.unlink(missing_ok=True)

        t0 = time.perf_counter()
        planted = generate(csv_path, rows)
        generated_s = time.perf_counter() - t0

        url = f"sqlite:///{db_path}"
        ensure_schema(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as session:
            campaign = services.create_campaign(session, name="bench", caller_id="2015550123")
            session.commit()
            campaign_id = campaign.id

        rss_before = _rss_mib()
        cpu_before = _cpu_s()
        report = import_contacts(factory, campaign_id, csv_path, rejects=rejects)
        cpu_s = _cpu_s() - cpu_before
        rss_peak = _rss_mib()
        engine.dispose()

        return {
            "rows": rows,
            "file_mib": round(csv_path.stat().st_size / 2**20, 1),
            "generate_s": round(generated_s, 1),
            "import_s": report.elapsed_s,
            "rows_per_s": round(report.rows_read / report.elapsed_s) if report.elapsed_s else None,
            # On a shared machine the wall clock includes other people's work; CPU time does not.
            "cpu_s": round(cpu_s, 1),
            "rows_per_cpu_s": round(report.rows_read / cpu_s) if cpu_s else None,
            "imported": report.imported,
            "rejected": report.rejected,
            "rejected_by_reason": report.rejected_by_reason,
            "phones_imported": report.phones_imported,
            "planted": planted,
            "peak_rss_mib": round(rss_peak, 1),
            "rss_before_import_mib": round(rss_before, 1),
            "python": sys.version.split()[0],
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated list")
    parser.add_argument("--keep", type=Path, help="write the list, database and rejects here and keep them")
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    args = parser.parse_args(argv)

    result = run(args.rows, args.keep)
    if not args.json:
        print(f"rows            {result['rows']:,} ({result['file_mib']} MiB of CSV)")
        print(f"import          {result['import_s']:.1f} s = {result['rows_per_s']:,} rows/s")
        print(f"cpu             {result['cpu_s']:.1f} s = {result['rows_per_cpu_s']:,} rows per CPU second")
        print(f"imported        {result['imported']:,} contacts, {result['phones_imported']:,} phones")
        print(f"rejected        {result['rejected']:,} {result['rejected_by_reason']}")
        print(f"peak memory     {result['peak_rss_mib']} MiB RSS ({result['rss_before_import_mib']} before the import)")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
