"""Benchmark of the national DNC registry: build, load, memory and lookups at the size of the US registry.

The US registry holds about 250 million numbers.  This script

1. builds a synthetic registry of that size straight into the registry
   structure (random bitmaps for 400 dense area codes plus a few sparse ones
   stored as sorted arrays; no text involved) and writes the file;
2. writes a text file of registry lines (10 million by default, with a few
   malformed ones) and loads it with the real text loader, to extrapolate the
   load time of the full text download;
3. scrubs 1 million numbers against the big registry in a fresh process: once
   cold (the file dropped from the page cache first) and once warm, then in
   two processes at once to show the copy is shared (PSS);

and prints the figures as text and as one JSON object.  Each phase runs in a
process of its own so its memory figures are its own.  Files go to a
temporary directory under --dir (default /tmp) and are deleted at the end.

    python bench/dnc.py                                  # 250 M numbers, 10 M text lines
    python bench/dnc.py --numbers 25000000 --text-lines 1000000   # quicker
    python bench/dnc.py --json                           # only the JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from compliance import registry as reg
from compliance.registry import BITMAP_BYTES, LOCALS, Registry, RegistryBuilder, load_registry_files

DENSITY = 1 / 16  # 625,000 numbers in each dense area code: 250 million in about 400 of them
SPARSE_AREA_CODES = 20
SPARSE_NUMBERS = 100_000  # per sparse area code: below the bitmap threshold, so stored as a sorted array
DOWNLOADED = datetime.now(UTC) - timedelta(days=3)


def area_codes(count: int, rng: random.Random) -> list[int]:
    """Distinct plausible area codes: 2-9 first, no N11, no 9xx service codes beyond what is needed."""
    pool = [ac for ac in range(200, 1000) if ac % 100 != 11]
    return sorted(rng.sample(pool, count))


def random_bitmap(rng: random.Random, density: float) -> bytes:
    """A bitmap whose bits are set with probability ``density`` (to 1/65536), built from whole random words.

    With the binary digits of the density b1 b2 ... b16, folding random
    bitmaps from the last digit to the first (OR for a 1, AND for a 0) sets
    each bit with probability exactly 0.b1b2...b16.  Trailing zero digits are
    skipped (an AND with nothing is nothing), so 1/16 takes four words.
    """
    steps = round(density * 65536)
    bits = BITMAP_BYTES * 8
    value = 0
    for i in range(16):
        if not value and not steps >> i & 1:
            continue
        word = rng.getrandbits(bits)
        value = (word | value) if steps >> i & 1 else (word & value)
    return value.to_bytes(BITMAP_BYTES, "little")


def proc_memory() -> dict[str, float]:
    """This process's memory in MB: resident (anonymous and file-backed), peak, and proportional share."""
    out: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) / 1024
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "Pss":
                out["Pss"] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return {k: round(v, 1) for k, v in out.items()}


# -- phases (each run in a process of its own) ------------------------------------------------


def phase_build(work: Path, numbers: int, seed: int) -> dict[str, Any]:
    """Build the registry straight from random bitmaps: as dense as the real one, 1 number in 16 of an area code."""
    rng = random.Random(seed)
    dense_count = max(1, round((numbers - SPARSE_AREA_CODES * SPARSE_NUMBERS) / (LOCALS * DENSITY)))
    codes = area_codes(dense_count + SPARSE_AREA_CODES, rng)
    dense, sparse = codes[:dense_count], codes[dense_count:]
    density = DENSITY
    started = time.perf_counter()
    builder = RegistryBuilder()
    for ac in dense:
        builder.add_bitmap(ac, random_bitmap(rng, density))
    for ac in sparse:
        bitmap = builder.bitmap(ac)
        for local in rng.sample(range(LOCALS), SPARSE_NUMBERS):
            bitmap[local >> 3] |= 1 << (local & 7)
    generated = time.perf_counter()
    info = builder.write(work / "registry.bin", downloaded_at=DOWNLOADED, sources=["synthetic"])
    written = time.perf_counter()
    with Registry(info.path) as registry:
        bitmaps = sum(registry._bitmaps[ac] is not None for ac in info.area_codes)
    return {
        "numbers": info.numbers,
        "area_codes": len(info.area_codes),
        "bitmap_area_codes": bitmaps,
        "sorted_array_area_codes": len(info.area_codes) - bitmaps,
        "file_mb": round(info.size_bytes / 1e6, 1),
        "generate_s": round(generated - started, 2),
        "write_s": round(written - generated, 2),
        "memory_mb": proc_memory(),
    }


def phase_text(work: Path, lines: int, seed: int) -> dict[str, Any]:
    """Time the text loader on lines as dense as the full registry (625,000 a area code), sorted as the files come."""
    rng = random.Random(seed)
    per_area_code = 625_000
    codes = area_codes(max(1, -(-lines // per_area_code)), rng)
    path = work / "registry.txt"
    started = time.perf_counter()
    with open(path, "wb") as out:
        left = lines
        for ac in codes:
            count = min(per_area_code, left)
            left -= count
            locals_ = sorted(rng.sample(range(2_000_000, LOCALS), count))
            body = [b"%d%07d" % (ac, n) for n in locals_]
            for i in range(0, count, 100_000):  # one malformed line in 100,000
                body[i] = b"%d-%07d" % (ac, locals_[i])
            out.write(b"\n".join(body) + b"\n")
    written = time.perf_counter()
    info, report = load_registry_files([path], work / "from_text.bin", downloaded_at=DOWNLOADED)
    loaded = time.perf_counter()
    size = path.stat().st_size
    path.unlink()
    return {
        "lines": report.lines,
        "text_mb": round(size / 1e6, 1),
        "area_codes": len(info.area_codes),
        "numbers": info.numbers,
        "duplicates": report.duplicates,
        "malformed": report.malformed,
        "write_text_s": round(written - started, 2),
        "load_s": round(loaded - written, 2),
        "lines_per_s": round(report.lines / (loaded - written)),
        "memory_mb": proc_memory(),
    }


def scrub_numbers(path: Path, count: int, seed: int) -> list[str]:
    """Numbers a campaign might hold: half in area codes the registry covers, the rest anywhere."""
    rng = random.Random(seed)
    with Registry(path) as registry:
        covered = registry.info.area_codes
    out = []
    for i in range(count):
        ac = rng.choice(covered) if i & 1 else rng.randrange(200, 1000)
        out.append(f"+1{ac:03d}{rng.randrange(2_000_000, LOCALS):07d}")
    return out


def barrier(work: Path, name: str, me: int, peers: int) -> None:
    """Wait (at most a minute) until ``peers`` processes have reached the point called ``name``."""
    (work / f"{name}-{me}").touch()
    deadline = time.monotonic() + 60
    while len(list(work.glob(f"{name}-*"))) < peers and time.monotonic() < deadline:
        time.sleep(0.01)


def phase_scrub(work: Path, count: int, seed: int, cold: bool, peers: int = 1) -> dict[str, Any]:
    path = work / "registry.bin"
    numbers = scrub_numbers(path, count, seed)
    if cold and hasattr(os, "posix_fadvise"):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # drop this file (only) from the page cache
        finally:
            os.close(fd)
    before = proc_memory()
    started = time.perf_counter()
    registry = Registry(path)
    opened = time.perf_counter()
    first = registry.listed_many(numbers)
    scrubbed = time.perf_counter()
    second = registry.listed_many(numbers)
    warm = time.perf_counter()
    one_by_one = sum(registry.listed(n) for n in numbers[: count // 4])
    single = time.perf_counter()
    if peers > 1:  # measure while every peer still maps the file, so PSS shows the sharing
        barrier(work, "scrubbed", seed, peers)
    after = proc_memory()
    if peers > 1:
        barrier(work, "measured", seed, peers)
    registry.close()
    assert first == second and one_by_one == sum(first[: count // 4])
    return {
        "lookups": count,
        "listed": sum(first),
        "open_ms": round((opened - started) * 1000, 2),
        "first_scrub_s": round(scrubbed - opened, 3),
        "first_lookups_per_s": round(count / (scrubbed - opened)),
        "warm_scrub_s": round(warm - scrubbed, 3),
        "warm_lookups_per_s": round(count / (warm - scrubbed)),
        "single_lookups_per_s": round((count // 4) / (single - warm)),
        "memory_before_open_mb": before,
        "memory_after_mb": after,
    }


# -- driver --------------------------------------------------------------------------------------


def run_phase(args: list[str], *, wait: bool = True) -> Any:
    command = [sys.executable, __file__, "--phase", *args]
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=250_000_000, help="numbers in the synthetic registry")
    parser.add_argument("--text-lines", type=int, default=10_000_000, help="lines for the text loader timing")
    parser.add_argument("--lookups", type=int, default=1_000_000, help="numbers in the scrub")
    parser.add_argument("--dir", default="/tmp", help="where the temporary files go")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print only the JSON object")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        name, work, *rest = args.phase
        if name == "build":
            result = phase_build(Path(work), int(rest[0]), args.seed)
        elif name == "text":
            result = phase_text(Path(work), int(rest[0]), args.seed)
        else:
            result = phase_scrub(Path(work), int(rest[0]), int(rest[1]), rest[2] == "cold", int(rest[3]))
        print(json.dumps(result))
        return

    needed = args.numbers / (LOCALS * DENSITY) * BITMAP_BYTES * 1.1 + args.text_lines * 12 + 200e6
    free = shutil.disk_usage(args.dir).free
    if free < needed:
        sys.exit(f"{args.dir} has {free / 1e9:.1f} GB free; this run needs about {needed / 1e9:.1f} GB")
    work = Path(tempfile.mkdtemp(prefix="dnc-bench-", dir=args.dir))
    try:
        started = time.perf_counter()
        build = run_phase(["build", str(work), str(args.numbers)])
        text = run_phase(["text", str(work), str(args.text_lines)])
        cold = run_phase(["scrub", str(work), str(args.lookups), str(args.seed), "cold", "1"])
        pair = [
            run_phase(["scrub", str(work), str(args.lookups), str(args.seed + i), "warm", "2"], wait=False)
            for i in (1, 2)
        ]
        shared = [json.loads(p.communicate()[0]) for p in pair]
        if any(p.returncode for p in pair):
            sys.exit("a scrub process failed")
        total = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)

    text_full_s = text["load_s"] * args.numbers / max(text["lines"], 1)
    result = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "registry": build,
        "text_loader": {**text, "extrapolated_load_s_for_registry_size": round(text_full_s)},
        "scrub_one_process": cold,
        "scrub_two_processes": shared,
        "total_s": round(total, 1),
        "format": {"bitmap_bytes_per_area_code": BITMAP_BYTES, "sparse_max": reg.SPARSE_MAX},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    mb = build["memory_mb"]
    print(
        f"Registry of {build['numbers']:,} numbers in {build['area_codes']} area codes "
        f"({build['bitmap_area_codes']} bitmaps, {build['sorted_array_area_codes']} sorted arrays): "
        f"file {build['file_mb']:,} MB"
    )
    print(
        f"  built in {build['generate_s'] + build['write_s']:.1f} s "
        f"(generate {build['generate_s']} s, write {build['write_s']} s); builder peak RSS {mb.get('VmHWM')} MB"
    )
    print(
        f"Text loader: {text['lines']:,} lines ({text['text_mb']} MB, {text['malformed']} malformed) "
        f"in {text['load_s']} s = {text['lines_per_s']:,} lines/s, peak RSS {text['memory_mb'].get('VmHWM')} MB"
    )
    print(f"  extrapolated to {args.numbers:,} lines: {text_full_s / 60:.1f} min")
    after = cold["memory_after_mb"]
    print(f"Scrub of {cold['lookups']:,} numbers ({cold['listed']:,} listed), fresh process: open {cold['open_ms']} ms")
    print(
        f"  cold page cache {cold['first_scrub_s']} s = {cold['first_lookups_per_s']:,}/s; "
        f"warm {cold['warm_scrub_s']} s = {cold['warm_lookups_per_s']:,}/s; "
        f"one call a number {cold['single_lookups_per_s']:,}/s"
    )
    print(
        f"  RSS after: {after.get('VmRSS')} MB (file-backed, shared {after.get('RssFile')} MB, "
        f"own {after.get('RssAnon')} MB); before opening {cold['memory_before_open_mb'].get('VmRSS')} MB"
    )
    for i, s in enumerate(shared, start=1):
        m = s["memory_after_mb"]
        print(
            f"  two processes at once, #{i}: {s['warm_lookups_per_s']:,}/s "
            f"(first pass {s['first_lookups_per_s']:,}/s), RSS {m.get('VmRSS')} MB, PSS {m.get('Pss')} MB"
        )
    print(f"Total {total:.0f} s.")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
