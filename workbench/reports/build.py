"""``workbench report``: every executed notebook of a folder as offline HTML, plus an index page."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from workbench.reports.browser import find_chromium
from workbench.reports.export import SHARED_PLOTLYJS, export_html, write_plotlyjs
from workbench.reports.index import write_index
from workbench.reports.runs import find_runs
from workbench.reports.thumbnails import thumbnail
from workbench.utils.progress import progress

__all__ = ["build_reports"]


def build_reports(runs_dir: str | os.PathLike, out_dir: str | os.PathLike, no_input: bool = False,
                  title: str | None = None, thumbnails: bool = False) -> Path:
    """Export every run under ``runs_dir`` to ``OUT/<run_id>.html`` and write ``OUT/index.html``; the
    pages share one ``OUT/plotly.min.js`` (a folder of reports weighs one plotly.js, not one per page).
    ``thumbnails``: draw each run's first figure to ``OUT/thumbs/<run_id>.png`` for the index (needs
    chromium, ~2 s a run; skipped with a note when chromium is missing).

    Returns the index path. Raises FileNotFoundError naming ``runs_dir`` when it holds no notebook.
    """
    runs_dir, out_dir = Path(runs_dir), Path(out_dir)
    runs = find_runs(runs_dir, exclude=out_dir)
    if not runs:
        raise FileNotFoundError(f"no executed notebook (*.ipynb) under {runs_dir}")
    links: dict[str, str] = {}
    thumbs: dict[str, str] = {}
    listed = []
    plotly_js = write_plotlyjs(out_dir)
    if thumbnails and find_chromium() is None:
        print("reports: no chromium (apt-get install chromium): index without thumbnails")
        thumbnails = False
    for run in progress(runs, desc="reports"):
        name = f"{run.run_id}.html"
        if run.state == "unreadable":  # find_runs could not parse it
            listed.append(run)
            continue
        try:
            export_html(run.notebook, out_dir / name, no_input=no_input, title=run.run_id, shared_js=SHARED_PLOTLYJS)
        except Exception as err:  # a truncated / invalid notebook: listed as such, the other reports still built
            run = dataclasses.replace(run, state="unreadable",
                                      error=f"{run.notebook}: cannot export ({type(err).__name__}: {str(err)[:200]})")
        else:
            links[run.run_id] = name
            if thumbnails and thumbnail(run.notebook, out_dir / "thumbs" / f"{run.run_id}.png", plotly_js):
                thumbs[run.run_id] = f"thumbs/{run.run_id}.png"
        listed.append(run)
    return write_index(out_dir, listed, links, title=title or f"Report: {runs_dir.resolve().name}", thumbs=thumbs)
