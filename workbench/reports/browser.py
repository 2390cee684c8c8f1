"""Headless Chromium (Debian's ``/usr/bin/chromium``) for report screenshots, with no network.

``screenshot(report.html, shot.png)`` renders a page the way a reader's browser would; with
``offline=True`` it runs under ``unshare -n`` (an empty network namespace) when that works, so a
report that needs the network shows it. Also used for the PNGs committed under ``docs/``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Sequence

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS", "find_chromium", "can_unshare_network", "chromium_command",
           "screenshot", "dump_dom"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars")


def find_chromium() -> str | None:
    """Debian's chromium, or any ``chromium`` / ``chromium-browser`` on PATH; None if absent."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


@functools.lru_cache(maxsize=1)
def can_unshare_network() -> bool:
    """True when ``unshare -n`` works here (root, or user namespaces allowed)."""
    exe = shutil.which("unshare")
    return bool(exe) and subprocess.run([exe, "-n", "true"], capture_output=True).returncode == 0


def chromium_command(args: Sequence[str], offline: bool = True, budget_ms: int = 15000) -> list[str]:
    """The command line: chromium with :data:`CHROMIUM_FLAGS`, a virtual-time budget and ``args``.

    Offline means ``unshare -n`` when possible, else a proxy that refuses every connection.
    """
    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError(f"chromium not found at {CHROMIUM} or on PATH (apt-get install chromium)")
    cmd = [exe, *CHROMIUM_FLAGS, f"--virtual-time-budget={budget_ms}", *args]
    if offline and can_unshare_network():
        return ["unshare", "-n", *cmd]
    if offline:
        return [*cmd[:1], "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", *cmd[1:]]
    return cmd


def _run(args: Sequence[str], offline: bool, timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="wb-chromium-") as profile:
        cmd = chromium_command([f"--user-data-dir={profile}", *args], offline=offline)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)


def screenshot(html_path: str | os.PathLike, png_path: str | os.PathLike, window_size: tuple[int, int] = (1200, 2200),
               offline: bool = True, timeout: float = 120, scale: float = 1.0) -> Path:
    """Render ``html_path`` in headless Chromium and save a PNG screenshot of the window (``window_size``
    device pixels; ``scale`` < 1 draws the page smaller, e.g. for thumbnails)."""
    png_path = Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    _run([f"--screenshot={png_path}", f"--window-size={window_size[0]},{window_size[1]}",
          f"--force-device-scale-factor={scale:g}", Path(html_path).resolve().as_uri()], offline, timeout)
    return png_path


def dump_dom(html_path: str | os.PathLike, offline: bool = True, timeout: float = 120) -> str:
    """The DOM after scripts ran (e.g. to check that plotly drew its SVG)."""
    return _run(["--dump-dom", Path(html_path).resolve().as_uri()], offline, timeout).stdout
