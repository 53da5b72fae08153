"""photostyle: train a photographic style once, stylize photos in milliseconds."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("photostyle")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
