"""The pure core (compliance/, dialer/ without its Twilio adapter) stays free of I/O frameworks.

That is what lets the pacers and the rules of law be tested exhaustively and
fast, and run in virtual time; adapters at the edge do the talking.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORE_PACKAGES = ("compliance", "dialer")
FORBIDDEN = frozenset({"flask", "sqlalchemy", "redis", "rq", "twilio", "apscheduler", "fakeredis"})


def is_adapter(module: str) -> bool:
    """Adapters that may talk to the outside world: the Twilio carrier only."""
    return module.startswith("dialer.carriers.twilio")


def core_modules() -> Iterator[tuple[str, Path]]:
    """Every module of the core packages, found on disk without importing anything."""

    def walk(name: str, directory: Path) -> Iterator[tuple[str, Path]]:
        yield name, directory / "__init__.py"
        for info in pkgutil.iter_modules([str(directory)]):
            child = f"{name}.{info.name}"
            if is_adapter(child):
                continue
            if info.ispkg:
                yield from walk(child, directory / info.name)
            else:
                yield child, directory / f"{info.name}.py"

    for package in CORE_PACKAGES:
        yield from walk(package, REPO / package)


def forbidden_imports(source: str) -> list[str]:
    """Every forbidden top-level package imported anywhere in ``source``, including inside functions."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in FORBIDDEN]
    return found


def test_the_core_is_found_on_disk():
    names = {name for name, _ in core_modules()}

    assert {"compliance", "dialer", "dialer.carriers"} <= names
    assert len(names) > 3
    assert all(path.exists() for _, path in core_modules())


def test_importing_the_whole_pure_core_loads_no_io_framework():
    modules = sorted(name for name, _ in core_modules())
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(FORBIDDEN)!r})))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_no_file_of_the_pure_core_imports_an_io_framework_even_lazily():
    offenders = {
        name: imports
        for name, path in core_modules()
        if (imports := forbidden_imports(path.read_text("utf-8")))
    }

    assert offenders == {}


def test_the_static_check_catches_imports_hidden_inside_functions():
    source = (
        "import json\n"
        "def later():\n"
        "    import sqlalchemy.orm\n"
        "    from redis import Redis\n"
        "    from flask.json import dumps\n"
        "    import importlib; importlib.import_module('twilio.rest')\n"
        "from . import sibling\n"
    )

    assert forbidden_imports(source) == ["sqlalchemy.orm", "redis", "flask.json", "twilio.rest"]


def test_only_the_twilio_carrier_is_exempt():
    assert is_adapter("dialer.carriers.twilio")
    assert is_adapter("dialer.carriers.twilio_http")
    assert not is_adapter("dialer.carriers.simulated")
    assert not is_adapter("dialer.carriers")
