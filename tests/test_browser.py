"""The ModeExplorer in a real browser: JupyterLab in headless Chromium, a slider moved, the picture changed.

Needs Debian's ``chromium`` (``apt-get install chromium``; never a browser
that Playwright downloads), Python ``playwright`` and ``jupyterlab``. Where
one is missing the test is skipped with the reason (``-ra`` prints it);
under CI (``CI`` set) a missing Chromium fails instead, since ``.ci/run``
installs it and a skip would hide that the check did not run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

NOTEBOOK_CELLS = [
    "from adkit.widgets import ModeExplorer\n"
    "explorer = ModeExplorer(n=4, m=2, repeats=1, methods=('forward', 'reverse', 'auto'))\n"
    "explorer",
]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def _require_browser() -> None:
    if shutil.which("chromium") is None:
        reason = "Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(f"the real-browser check must run in CI, but {reason}")
        pytest.skip(f"real-browser check skipped: {reason}")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("real-browser check skipped: the Python package playwright is not installed")
    if importlib.util.find_spec("jupyterlab") is None:
        pytest.skip("real-browser check skipped: jupyterlab is not installed (pip install -e '.[lab]')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_notebook(path: Path) -> None:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {}, "outputs": [],
              "source": source} for i, source in enumerate(NOTEBOOK_CELLS)]  # fmt: skip
    notebook = {
        "cells": cells,
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))


def _wait_for_server(url: str, process: subprocess.Popen, log: Path, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"jupyter lab exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"jupyter lab did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


KERNEL_IDLE = """() => {
    const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const kernel = widget && widget.sessionContext && widget.sessionContext.session
        && widget.sessionContext.session.kernel;
    return !!kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle';
}"""


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_moving_a_slider_redraws_the_explorer_in_a_real_browser(tmp_path):
    _require_browser()
    from playwright.sync_api import sync_playwright

    root = tmp_path / "root"
    root.mkdir()
    _write_notebook(root / "explorer.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    homes = ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR")
    for name in homes:
        env[name] = str(tmp_path / name.lower())
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env.pop("MPLBACKEND", None)
    log = tmp_path / "jupyter.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True"]  # fmt: skip
    started = time.monotonic()
    with log.open("w") as log_file:
        server = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", server, log)
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"), executable_path=shutil.which("chromium"), headless=True,
                args=CHROMIUM_ARGS,
            )  # fmt: skip
            try:
                page = context.new_page()
                page.set_default_timeout(60_000)
                page.goto(f"http://127.0.0.1:{port}/lab/tree/explorer.ipynb?token={token}")
                page.wait_for_function(KERNEL_IDLE, polling=250)
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
                image = page.locator(".widget-output img").first
                image.wait_for(state="visible")
                first = image.get_attribute("src")
                assert first and first.startswith(("data:image/png", "blob:"))
                handle = page.locator(".widget-slider .noUi-handle").first  # the n slider
                handle.focus()
                handle.press("ArrowRight")
                page.wait_for_function(
                    "(old) => { const img = document.querySelector('.widget-output img');"
                    " return img && img.getAttribute('src') !== old; }",
                    arg=first, polling=250,
                )  # fmt: skip
                status = page.locator(".widget-label").filter(has_text="n = 8, m = 2").first
                status.wait_for(state="visible")  # the kernel measured the new n
            finally:
                context.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert time.monotonic() - started < 120
