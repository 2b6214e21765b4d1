"""Alembic migrations, shipped as a package so they are found wherever it is installed."""

from pathlib import Path

SCRIPT_LOCATION = str(Path(__file__).resolve().parent)
