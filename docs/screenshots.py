"""Make the PNGs under docs/ from a finished demo: the live explorer and an exported report.

    python docs/screenshots.py [DEMO_DIR]      # default: demo_output (run `make demo` first)

The explorer: JupyterLab + Playwright on Debian's chromium (the browser-test harness). The report:
headless chromium with no network (:func:`workbench.reports.browser.screenshot`). PNGs are reduced
to a 256-colour palette so each stays under 500 kB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
LIMIT = 500_000


def shrink(png: Path) -> Path:
    """Re-save ``png`` with a 256-colour palette (screenshots of figures compress well)."""
    Image.open(png).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)
    size = png.stat().st_size
    if size > LIMIT:
        raise RuntimeError(f"{png} is {size} bytes, over {LIMIT}")
    return png


def explorer(demo: Path, png: Path) -> Path:
    env = dict(os.environ, SHOT_RUN_DIR=str(demo), SHOT_PNG=str(png))
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/notebooks/shoot_explorer.py"],
                   cwd=REPO, env=env, check=True)
    return shrink(png)


def report(demo: Path, png: Path, run: str = "compare") -> Path:
    from workbench.reports.browser import screenshot
    from workbench.studies.table import read_statuses

    run_id = read_statuses(demo / "studies" / run)[0]["run_id"]
    screenshot(demo / "reports" / f"{run_id}.html", png, window_size=(1200, 2200), offline=True)
    return shrink(png)


def main(demo: str = "demo_output") -> None:
    demo_dir = Path(demo).resolve()
    json.loads((demo_dir / "demo.json").read_text())  # fails early on a folder that is not a demo
    for made in (explorer(demo_dir, DOCS / "explorer.png"), report(demo_dir, DOCS / "report.png")):
        print(f"{made} ({made.stat().st_size // 1000} kB)")


if __name__ == "__main__":
    main(*sys.argv[1:])
