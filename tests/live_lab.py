"""Browser test harness: headless Chromium via Playwright, and a JupyterLab server to drive.

- ``browser`` fixture: Debian's ``/usr/bin/chromium`` launched by Playwright (its wheel carries the
  driver; ``playwright install`` is never needed). Skips with the reason when either is missing.
- ``lab_server`` fixture: a factory ``lab_server(folder) -> LabServer`` that copies ``folder`` to a
  temporary directory (runs write files next to the notebooks) and serves it with JupyterLab on a
  free localhost port, no token, ``window.jupyterapp`` exposed and the news toast silenced.
- :class:`LabNotebook`: open a notebook, wait for an idle kernel, run all cells, press keys on an
  ipywidgets slider and read the plotly figure's text.

The fixtures are registered for every test by ``pytest_plugins = ["live_lab"]`` in tests/conftest.py. Seen: ~20 s per
live test on 2 cores.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from workbench.reports.browser import CHROMIUM_FLAGS, find_chromium

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


@pytest.fixture
def lab_server(tmp_path_factory) -> Iterator:
    """Factory fixture: ``lab_server(folder)`` serves a temporary copy of ``folder`` with JupyterLab."""
    procs: list[subprocess.Popen] = []

    def start(folder: str | os.PathLike) -> LabServer:
        base = tmp_path_factory.mktemp("lab")
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
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        _wait_http(f"{url}/api/status", proc, log)
        return LabServer(url, root)

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser():
    """Playwright's Chromium API on Debian's chromium; skipped when either is missing."""
    exe = find_chromium()
    if exe is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
    with sync_api.sync_playwright() as pw:
        args = [f for f in CHROMIUM_FLAGS if f != "--headless"]
        b = pw.chromium.launch(executable_path=exe, headless=True, args=args)
        yield b
        b.close()


class LabNotebook:
    """A notebook open in JupyterLab, driven through ``window.jupyterapp`` and the keyboard."""

    def __init__(self, page, server: LabServer, path: str, timeout_ms: int = 60_000):
        self.page, self.timeout = page, timeout_ms
        page.set_default_timeout(timeout_ms)
        page.goto(f"{server.url}/lab/tree/{path}")
        page.wait_for_function(KERNEL_READY, timeout=timeout_ms)  # clicking earlier silently does nothing

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

    def screenshot(self, path: str | os.PathLike) -> Path:
        """A PNG of the page (e.g. for the explorer screenshot under ``docs/``)."""
        self.page.screenshot(path=str(path), full_page=True)
        return Path(path)
