"""The core and the command logic must stay usable without Django."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_core_import_leaves_django_out():
    code = (
        "import sys, scheduler.core, scheduler.core.scenario, scheduler.core.hybrid\n"
        "import scheduler.cli\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    assert output.stdout.strip() == "[]"
