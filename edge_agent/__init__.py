"""The gosd edge agent: runs on each drone companion computer and depot (DESIGN §1)."""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("gosd")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
