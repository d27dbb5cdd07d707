"""Errors of the image data sets; each message names the file and what to do."""

from __future__ import annotations

from gansweep.errors import GansweepError


class ChecksumError(GansweepError, ValueError):
    """A downloaded or existing file does not have the expected checksum."""


class ContentError(ChecksumError):
    """A file downloaded (or found) but its content is not the data set it should be, e.g. a
    wrong mirror: it was moved aside and no digest was recorded for it."""


class DataMissingError(GansweepError, FileNotFoundError):
    """Raw or prepared files are absent; the message names the paths and how to get them."""
