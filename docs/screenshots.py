"""Make the PNGs under docs/ from a finished demo: the live explorer, the report site's landing page
and an exported report.

    python docs/screenshots.py [DEMO_DIR]      # default: demo_output (run `make demo` first)

The explorer: JupyterLab + Playwright on Debian's chromium (:mod:`workbench.reports.lab`, the
browser tests' harness). The reports: headless chromium with no network
(:func:`workbench.reports.browser.screenshot`). PNGs are reduced to a 256-colour palette so each
stays under 500 kB.
"""

from __future__ import annotations

import json
import sys
import tempfile
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
    """The explorer notebook on the demo, run in JupyterLab, after one step along the slice slider."""
    from workbench.reports.lab import LabNotebook, chromium_browser, explorer_notebook, serve_lab

    with tempfile.TemporaryDirectory() as tmp, chromium_browser() as browser:
        folder = explorer_notebook(REPO / "notebooks" / "01_explore.ipynb", Path(tmp) / "nb", demo).parent
        with serve_lab(folder) as server:
            page = browser.new_page(viewport={"width": 1500, "height": 1250})
            lab = LabNotebook(page, server, "01_explore.ipynb", timeout_ms=300_000)
            page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
            lab.run_all()
            lab.slider_changes_figure(slider=1, figure=0)  # one step along the slice slider, as a user would
            page.locator(".jp-OutputArea-output .widget-vbox").first.scroll_into_view_if_needed()
            page.wait_for_timeout(1500)
            png.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(png))
            page.close()
    return shrink(png)


def landing(demo: Path, png: Path) -> Path:
    """The report site's index page."""
    from workbench.reports.browser import screenshot

    screenshot(demo / "reports" / "index.html", png, window_size=(1300, 1800), offline=True)
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
    for made in (explorer(demo_dir, DOCS / "explorer.png"), landing(demo_dir, DOCS / "landing.png"),
                 report(demo_dir, DOCS / "report.png")):
        print(f"{made} ({made.stat().st_size // 1000} kB)")


if __name__ == "__main__":
    main(*sys.argv[1:])
