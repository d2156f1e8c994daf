"""The one error a mission file can raise, saying where the file is wrong.

A plan is refused at create/update with this location (HTTP 422), and the edge agent refuses
a job with it, so both sides report the same place in the same words.
"""

from __future__ import annotations


class MissionFileError(ValueError):
    """A mission file that cannot be flown as given: ``str(exc)`` is ``"location: message"``."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        """Where in the file, e.g. ``mission.items[3].params[4]`` or ``line 5, column 9
        (latitude)``; ``file`` for the file as a whole."""
        self.message = message
        """What is wrong there, for people."""
