"""The package version, recorded in every index manifest and encoder cache entry."""

__version__ = "0.1.0"
