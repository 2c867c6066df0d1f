"""The package's version, in the bottom layer so that data files can record it without importing the package's
public API (which sits above every layer)."""

__version__ = "0.2.0"
