"""adkit in a real browser: JupyterLab in headless Chromium.

The ModeExplorer: a slider moved, the picture changed. The tutorials: opened
and saved as a learner would (under ``make lab``'s settings), they are not
marked modified and no file changes.

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NOTEBOOK_CELLS = [
    "from adkit.widgets import ModeExplorer\n"
    "explorer = ModeExplorer(n=4, m=2, repeats=1, methods=('forward', 'reverse', 'auto'))\n"
    "explorer",
]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell{i}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for i, source in enumerate(NOTEBOOK_CELLS)
    ]
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


ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LAB_CONFIG = NOTEBOOKS / "jupyter_lab_config.json"  # what `make lab` passes to JupyterLab


@contextmanager
def jupyterlab(tmp_path: Path, root: Path, *options: str) -> Iterator[tuple[object, str]]:
    """A JupyterLab server on ``root`` and a headless Chromium page: yields (page, base url with token)."""
    from playwright.sync_api import sync_playwright

    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    homes = ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR")
    for name in homes:
        env[name] = str(tmp_path / name.lower())
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env.pop("MPLBACKEND", None)
    log = tmp_path / "jupyter.log"
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.allow_root=True",
        *options,
    ]
    with log.open("w") as log_file:
        server = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", server, log)
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(tmp_path / "chromium-profile"),
                executable_path=shutil.which("chromium"),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 800},
            )
            try:
                page = context.new_page()
                page.set_default_timeout(180_000)  # a kernel starts slowly on a busy machine
                yield page, f"http://127.0.0.1:{port}", token
            finally:
                context.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_moving_a_slider_redraws_the_explorer_in_a_real_browser(tmp_path):
    _require_browser()
    root = tmp_path / "root"
    root.mkdir()
    _write_notebook(root / "explorer.ipynb")
    started = time.monotonic()
    with jupyterlab(tmp_path, root) as (page, base, token):
        page.goto(f"{base}/lab/tree/explorer.ipynb?token={token}")
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
            arg=first,
            polling=250,
        )
        status = page.locator(".widget-label").filter(has_text="n = 8, m = 2").first
        status.wait_for(state="visible")  # the kernel measured the new n
    assert time.monotonic() - started < 120


DIRTY = "() => window.jupyterapp.shell.currentWidget.context.model.dirty"
# Tutorials opened and saved in the browser: two with widget state and a plain one.
OPENED = ["00_tour", "05_graphs", "02_dual_numbers"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_opening_and_saving_a_tutorial_in_jupyterlab_changes_no_file(tmp_path):
    """Under make lab's settings: each tutorial listed once, opened unmodified, saved without a change."""
    _require_browser()
    root = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    stored = {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}
    with jupyterlab(tmp_path, root, f"--config={LAB_CONFIG}") as (page, base, token):
        page.goto(f"{base}/lab/tree/{OPENED[0]}.ipynb?token={token}")
        listing = page.locator(".jp-DirListing-item .jp-DirListing-itemText")
        listing.first.wait_for(state="visible")
        names = set(listing.all_inner_texts())
        tutorials = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]*_*.ipynb"))
        assert {f"{stem}.ipynb" for stem in tutorials} <= names, names
        assert not {f"{stem}.py" for stem in tutorials} & names, f"the scripts are listed too: {names}"
        for stem in OPENED:
            if stem != OPENED[0]:
                page.evaluate(
                    f"() => window.jupyterapp.commands.execute('docmanager:open', {{path: '{stem}.ipynb'}})"
                )
                page.wait_for_function(
                    f"() => window.jupyterapp.shell.currentWidget.context.path === '{stem}.ipynb'"
                )
            page.wait_for_function(KERNEL_IDLE, polling=250)
            time.sleep(1)  # the kernel info reply updates the metadata just after the kernel is idle
            assert not page.evaluate(DIRTY), f"{stem}.ipynb opens marked as modified"
            page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
            page.wait_for_function(
                "() => { const c = window.jupyterapp.shell.currentWidget.context;"
                " return !c.model.dirty && c.contentsModel && c.contentsModel.last_modified; }"
            )
            time.sleep(1)  # the paired script is written in the same request; leave it time to land
    changed = sorted(name for name, data in stored.items() if (root / name).read_bytes() != data)
    assert not changed, f"opening and saving {OPENED} in JupyterLab changed {changed}"
