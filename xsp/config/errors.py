"""The one error a state reports to its user."""
from __future__ import annotations


class ConfigFileError(Exception):
    """The configuration file cannot be used; str() names the file, line and problem."""
