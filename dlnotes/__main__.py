"""``python -m dlnotes``: the same command line as the ``dlnotes`` console script."""

from __future__ import annotations

from dlnotes.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
