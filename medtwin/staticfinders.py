"""Serve the plotly.js bundle from the installed plotly package.

The hospital network may have no route to a CDN, and copying the 4.8 MB
bundle into ``static/`` would let it drift from the pinned plotly version.
"""

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

PACKAGE_DATA = Path(plotly.__file__).resolve().parent / "package_data"
BUNDLE = "plotly.min.js"
PREFIX = "vendor/plotly"
STATIC_PATH = f"{PREFIX}/{BUNDLE}"


class PlotlyFinder(BaseFinder):
    """Finds ``vendor/plotly/plotly.min.js`` in the plotly package, nothing else."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=PACKAGE_DATA)
        # collectstatic copies listed files under the storage's prefix.
        self.storage.prefix = PREFIX

    def check(self, **kwargs):
        if (PACKAGE_DATA / BUNDLE).is_file():
            return []
        return [
            Error(
                f"plotly.js bundle missing at {PACKAGE_DATA / BUNDLE}",
                hint="reinstall the plotly package pinned in requirements.txt",
                id="medtwin.E001",
            )
        ]

    def find(self, path, find_all=False, **kwargs):
        if path != STATIC_PATH:
            return []
        match = str(PACKAGE_DATA / BUNDLE)
        return [match] if find_all else match

    def list(self, ignore_patterns):
        yield BUNDLE, self.storage
