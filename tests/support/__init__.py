"""Helpers shared by the tests (paths, gradient checks, temporary sites).

Test modules import helpers from here, never from each other.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
