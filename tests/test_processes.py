"""Pool workers die with their parent (no orphan keeps running grid entries); one run per folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from workbench.utils.processes import folder_lock

PARENT = """
import concurrent.futures as cf, multiprocessing, os, sys, time
from workbench.utils.processes import die_with_parent

def work(_):
    time.sleep(120)

if __name__ == "__main__":
    pool = cf.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=die_with_parent)
    pool.submit(work, 0)
    time.sleep(3)
    print(" ".join(str(p) for p in pool._processes), flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie waiting for its reaper counts as dead
        return f.read().split()[2] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_pool_workers_die_when_the_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert workers and all(_alive(p) for p in workers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers), "a pool worker outlived its killed parent"
    finally:
        parent.kill()


def test_one_run_per_folder(tmp_path):
    with folder_lock(tmp_path / "study", what="study 'x'"):
        with pytest.raises(RuntimeError, match=rf"another study 'x' is using this folder \(PID {os.getpid()}\)"):
            with folder_lock(tmp_path / "study", what="study 'x'"):
                pass
    with folder_lock(tmp_path / "study"):  # released when the first run ended
        pass
