"""Drive JupyterLab in headless Chromium: a lab server on a folder, a notebook's cells and sliders.

Used by the browser tests (``tests/live_lab.py`` wraps these in fixtures) and by
``bench/bench_explorer.py`` (slider response of the live explorer). :func:`start_lab` serves a
temporary copy of a folder (runs write files next to the notebooks) on a free localhost port, no
token, ``window.jupyterapp`` exposed and the news toast silenced; :class:`LabNotebook` opens a
notebook, waits for an idle kernel, runs all cells, presses keys on an ipywidgets slider and reads
the plotly figure's text. Needs ``playwright`` (the test extra) and Debian's chromium.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from workbench.reports.browser import CHROMIUM_FLAGS, find_chromium

__all__ = ["LabServer", "LabNotebook", "start_lab", "stop_lab", "serve_lab", "chromium_browser", "explorer_notebook"]

KERNEL_READY = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && k.connectionStatus === 'connected';
}"""
NEWS_SETTINGS = ("@jupyterlab/apputils-extension", "notification.jupyterlab-settings",
                 {"fetchNews": "false", "checkForUpdates": False})


@dataclass(frozen=True)
class LabServer:
    """A running JupyterLab: its base URL and the folder it serves."""

    url: str
    root: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"jupyter lab did not answer at {url} in {timeout} s:\n{log.read_text()[-3000:]}")


def explorer_notebook(source: str | os.PathLike, folder: str | os.PathLike, run_dir: str | os.PathLike) -> Path:
    """``folder/01_explore.ipynb``: the explorer notebook ``source`` with ``RUN_DIR`` set to ``run_dir``
    (what a user edits in the parameters cell), for serving with JupyterLab."""
    import nbformat

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.read(Path(source), as_version=4)
    (cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    source_text = cell.source.replace('RUN_DIR = "../demo_output"', f'RUN_DIR = "{run_dir}"')
    if source_text == cell.source:
        raise ValueError(f"{source}: no `RUN_DIR = \"../demo_output\"` line in its parameters cell")
    cell.source = source_text
    nbformat.write(nb, folder / "01_explore.ipynb")
    return folder / "01_explore.ipynb"


def start_lab(folder: str | os.PathLike, base: str | os.PathLike) -> tuple[LabServer, subprocess.Popen]:
    """Serve a copy of ``folder`` (made under ``base``) with JupyterLab; returns the server and its process."""
    base = Path(base)
    root = base / "root"
    shutil.copytree(folder, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    ext, name, values = NEWS_SETTINGS
    settings = base / "settings" / ext
    settings.mkdir(parents=True)
    (settings / name).write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_BATCH", "PLOTLY_RENDERER")}
    env.update(JUPYTERLAB_SETTINGS_DIR=str(base / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"), JUPYTER_CONFIG_DIR=str(base / "config"))
    port = _free_port()
    log = base / "lab.log"
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
           "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
           "--ServerApp.allow_root=True", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True"]
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/api/status", proc, log)
    except BaseException:
        stop_lab(proc)
        raise
    return LabServer(url, root), proc


def stop_lab(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@contextlib.contextmanager
def serve_lab(folder: str | os.PathLike) -> Iterator[LabServer]:
    """``with serve_lab(folder) as server:`` JupyterLab on a temporary copy of ``folder``."""
    with tempfile.TemporaryDirectory(prefix="workbench-lab-") as base:
        server, proc = start_lab(folder, base)
        try:
            yield server
        finally:
            stop_lab(proc)


@contextlib.contextmanager
def chromium_browser():
    """Playwright's Chromium API on Debian's chromium (RuntimeError naming what is missing)."""
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=[f for f in CHROMIUM_FLAGS if f != "--headless"])
        try:
            yield b
        finally:
            b.close()


class LabNotebook:
    """A notebook open in JupyterLab, driven through ``window.jupyterapp`` and the keyboard."""

    def __init__(self, page, server: LabServer, path: str, timeout_ms: int = 60_000):
        self.page, self.timeout = page, timeout_ms
        page.set_default_timeout(timeout_ms)
        page.goto(f"{server.url}/lab/tree/{path}")
        page.wait_for_function(KERNEL_READY, timeout=timeout_ms)  # clicking earlier silently does nothing

    def dirty(self) -> bool:
        """Whether the open notebook has unsaved changes (JupyterLab's dirty flag)."""
        return bool(self.page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty"))

    def run_all(self, wait_for: str = ".js-plotly-plot .main-svg") -> None:
        """Run every cell, then wait for ``wait_for`` and for the kernel to be idle again."""
        self.page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_selector(wait_for, timeout=self.timeout)
        self.page.wait_for_function(KERNEL_READY, timeout=self.timeout)

    def plotly_text(self, index: int = 0) -> str:
        """The text content (titles, tick labels) of the ``index``-th plotly figure's SVG."""
        return self.page.locator(".js-plotly-plot").nth(index).text_content() or ""

    def move_slider(self, index: int = 0, key: str = "ArrowRight", presses: int = 1) -> None:
        """Focus the ``index``-th ipywidgets slider handle and press ``key``."""
        self.page.locator(".widget-slider .noUi-handle").nth(index).focus()
        for _ in range(presses):
            self.page.keyboard.press(key)

    def slider_changes_figure(self, slider: int = 0, figure: int = 0, key: str = "ArrowRight") -> tuple[str, str]:
        """(figure text before, after) moving a slider; waits until the figure was re-drawn."""
        before = self.plotly_text(figure)
        self.move_slider(slider, key)
        self.page.wait_for_function(
            "([i, old]) => { const f = document.querySelectorAll('.js-plotly-plot')[i];"
            " return !!f && f.querySelector('.main-svg') && f.textContent !== old; }",
            arg=[figure, before], timeout=self.timeout)
        return before, self.plotly_text(figure)

    def timed_steps(self, slider: int, keys: list[str], figure: int = 0) -> list[float]:
        """Seconds from each key press on slider ``slider`` to the figure's changed text (one per key)."""
        times = []
        for key in keys:
            start = time.monotonic()
            self.slider_changes_figure(slider, figure, key)
            times.append(time.monotonic() - start)
        return times

    def mark_figure(self, index: int = 0) -> None:
        """Tag the ``index``-th plot's DOM node, so :meth:`figure_kept` tells an in-place update from a redraw."""
        self.page.evaluate("i => { document.querySelectorAll('.js-plotly-plot')[i].dataset.kept = '1'; }", index)

    def figure_kept(self, index: int = 0) -> bool:
        return bool(self.page.evaluate(
            "i => { const f = document.querySelectorAll('.js-plotly-plot')[i]; return !!f && f.dataset.kept === '1'; }",
            index))

    def screenshot(self, path: str | os.PathLike) -> Path:
        """A PNG of the page (e.g. for the explorer screenshot under ``docs/``)."""
        self.page.screenshot(path=str(path), full_page=True)
        return Path(path)
