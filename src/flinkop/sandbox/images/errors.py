"""Errors of the images installer."""

from __future__ import annotations


class InstallError(Exception):
    """Installing the sandbox images failed; the message says what to do about it."""
