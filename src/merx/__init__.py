"""Merx: commerce operations platform."""

__version__ = "0.1.0"
