"""The errors of the notes tooling: one line for the user, no traceback.

The CLI prints a :class:`StudyError`'s message alone (exit code 2); the ``mkdocs
serve`` endpoint answers it as JSON. :class:`NotFound` and :class:`Ambiguous` tell a
lookup that found nothing from one that found too much.
"""

from __future__ import annotations

__all__ = ["Ambiguous", "NotFound", "StudyError"]


class StudyError(Exception):
    """An edit or lookup that cannot be done; the message is one line for the user."""

    user_error = True  # the CLI prints the message alone, without the class name


class NotFound(StudyError):
    pass


class Ambiguous(StudyError):
    pass
