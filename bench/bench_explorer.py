"""The live explorer and the report site as a reader meets them, in a real browser (issue 15).

Serves ``notebooks/01_explore.ipynb`` pointed at a ``make demo`` folder with JupyterLab, runs it in
headless Chromium (Playwright) and times slider steps on cached slices: key press to the figure's
new text, ``--steps`` per slider, alternating right / left so every slice is
cached after the first two steps (slice, threshold). Then opens every page of the demo's report site (``file://``,
offline) and times it until every plotly figure is drawn, and sizes the folder.

Usage: ``python bench/bench_explorer.py [--demo demo_output] [--steps 20]``; needs ``make demo`` first
and the test extra (playwright) with Debian's chromium.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from common import table, write_result

ROOT = Path(__file__).resolve().parent.parent
SLIDERS = {"slice": 1, "threshold": 2}  # ipywidgets slider order in the explorer (a head step changes only
# the titles' colours, which the figure text does not show, so it is not timed here)


def slider_times(demo: Path, steps: int) -> dict[str, list[float]]:
    from workbench.reports.lab import LabNotebook, chromium_browser, explorer_notebook, serve_lab

    with tempfile.TemporaryDirectory() as tmp, chromium_browser() as browser:
        folder = explorer_notebook(ROOT / "notebooks" / "01_explore.ipynb", Path(tmp) / "nb", demo.resolve()).parent
        with serve_lab(folder) as server:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            lab = LabNotebook(page, server, "01_explore.ipynb", timeout_ms=300_000)
            lab.run_all()
            lab.timed_steps(SLIDERS["slice"], ["ArrowRight", "ArrowLeft"])  # both slices captured and cached
            keys = (["ArrowRight", "ArrowLeft"] * steps)[:steps]
            out = {"slice": lab.timed_steps(SLIDERS["slice"], keys, figure=0),
                   "threshold": lab.timed_steps(SLIDERS["threshold"], keys, figure=0)}
            page.close()
    return out


def page_times(reports: Path) -> list[tuple[str, float, float]]:
    """(page, MB, seconds until every plotly figure on it is drawn) for each HTML page."""
    from workbench.reports.lab import chromium_browser

    rows = []
    with chromium_browser() as browser:
        for html in sorted(reports.rglob("*.html")):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.monotonic()
            page.goto(html.resolve().as_uri(), wait_until="load", timeout=120_000)
            page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                                   ".every(f => f.querySelector('.main-svg'))", timeout=120_000)
            rows.append((str(html.relative_to(reports)), html.stat().st_size / 1e6, time.monotonic() - start))
            page.close()
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--demo", default=str(ROOT / "demo_output"), help="a `make demo` / `workbench demo` folder")
    p.add_argument("--steps", type=int, default=20, help="key presses timed per slider")
    args = p.parse_args(argv)
    demo = Path(args.demo)
    if not (demo / "demo.json").is_file():
        raise SystemExit(f"bench_explorer.py: error: {demo} is not a demo folder (no demo.json); run `make demo` first")
    sliders = slider_times(demo, args.steps)
    pages = page_times(demo / "reports")
    size = sum(f.stat().st_size for f in (demo / "reports").rglob("*") if f.is_file()) / 1e6
    body = (f"`bench/bench_explorer.py`: `notebooks/01_explore.ipynb` on the `make demo` folder in JupyterLab, driven "
            f"in headless Chromium; {args.steps} key presses per slider on cached slices (key press to the updated "
            "figure text; the figures are plotly FigureWidgets updated in place).\n\n")
    body += table(["slider", "median s", "max s"],
                  [(k, f"{statistics.median(v):.3f}", f"{max(v):.3f}") for k, v in sliders.items()])
    body += (f"\n\nReport site of the demo: **{size:.1f} MB** in {len(pages)} pages (one shared plotly.min.js); "
             "open time = `file://` load until every plotly figure is drawn.\n\n")
    body += table(["page", "MB", "open s"], [(name, f"{mb:.1f}", f"{s:.2f}") for name, mb, s in pages])
    print(write_result("explorer", "The live explorer and the report site in a real browser", body).read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
