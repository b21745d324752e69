"""The HTML that adkit builds needs no network: make demo's pages and the documentation, in a real browser.

Headless Chromium (Debian's; see tests/test_browser.py) opens each page from
disk with every request that is not a local file refused, waits for MathJax
(served from the pages' own ``_static/mathjax``) to finish, and checks that

- nothing was fetched from the network (no CDN: MathJax, require.js, the
  widget manager, fonts ...);
- every formula was typeset: MathJax's output elements are there, and no
  ``$...$``, ``\\(...\\)`` or ``\\[...\\]`` is left as text outside code;
- a widget shows a picture, not an empty box.

The demo pages are made from the stored notebooks without running them
(``notebooks/build.py``'s ``demo(run=False)``, the same template as ``make
demo``); the docs are built into a temporary folder with the project's
``docs/conf.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))
import build  # noqa: E402  (notebooks/build.py: make demo's pages)

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

# Run in the page once MathJax has typeset it: the formulas typeset, and the TeX left as text outside code.
INSPECT = r"""async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
    const skip = new Set(['SCRIPT', 'STYLE', 'PRE', 'CODE', 'TEXTAREA', 'MJX-CONTAINER',
                          'MJX-ASSISTIVE-MML']);
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
        acceptNode(node) {
            for (let el = node.parentElement; el; el = el.parentElement) {
                if (skip.has(el.tagName) || el.classList.contains('highlight')
                    || el.classList.contains('jp-OutputArea-output')) { return NodeFilter.FILTER_REJECT; }
            }
            return NodeFilter.FILTER_ACCEPT;
        }
    });
    const raw = [];
    const tex = /\$\$?[^$\s][^$]*\$\$?|\\\(.+?\\\)|\\\[.+?\\\]/;
    while (walker.nextNode()) {
        const text = walker.currentNode.textContent;
        if (tex.test(text)) { raw.push(text.trim().slice(0, 120)); }
    }
    return {
        mathjax: !!(window.MathJax && MathJax.version),
        typeset: document.querySelectorAll('mjx-container').length,
        errors: document.querySelectorAll('mjx-merror').length,
        raw: raw,
        emptyWidgets: document.querySelectorAll('.jupyter-widgets:empty').length,
    };
}"""


def _require_browser() -> None:
    if shutil.which("chromium") is None:
        reason = "Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(f"the offline browser check must run in CI, but {reason}")
        pytest.skip(f"offline browser check skipped: {reason}")
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("offline browser check skipped: the Python package playwright is not installed")


def inspect_offline(pages: list[Path], profile: Path, screenshots: dict[str, Path] | None = None) -> dict:
    """Open each page from disk with the network refused; return {page name: what INSPECT found}."""
    from playwright.sync_api import sync_playwright

    refused: list[str] = []

    def refuse_network(route):
        if route.request.url.startswith(("file:", "data:", "blob:")):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    found = {}
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=shutil.which("chromium"),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
            offline=True,
        )
        try:
            context.route("**/*", refuse_network)
            page = context.new_page()
            page.set_default_timeout(60_000)
            for path in pages:
                page.goto(path.as_uri(), wait_until="load")
                found[path.name] = page.evaluate(INSPECT)
                shot = (screenshots or {}).get(path.name)
                if shot:
                    page.screenshot(path=str(shot))
        finally:
            context.close()
    found["refused requests"] = refused
    return found


def _problems(found: dict, pages_with_math: set[str]) -> list[str]:
    problems = [f"a request left the machine: {url}" for url in found["refused requests"]]
    for name, page in found.items():
        if name == "refused requests":
            continue
        if name in pages_with_math and not page["mathjax"]:
            problems.append(f"{name}: MathJax did not load")
        if page["raw"]:
            problems.append(f"{name}: TeX left as text: {page['raw'][:3]}")
        if page["errors"]:
            problems.append(f"{name}: {page['errors']} formulas MathJax could not typeset")
        if name in pages_with_math and not page["typeset"]:
            problems.append(f"{name}: no formula typeset")
        if page["emptyWidgets"]:
            problems.append(f"{name}: {page['emptyWidgets']} empty widget boxes")
    return problems


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_demo_pages_render_their_formulas_offline(tmp_path):
    _require_browser()
    out = tmp_path / "out"
    index = build.demo(out, run=False)
    pages = [index, *sorted(p for p in out.glob("[0-9][0-9]*_*.html"))]
    assert len(pages) == 1 + len(list(build.HERE.glob("[0-9][0-9]*_*.ipynb")))
    remote = re.compile(r"<(?:script|img|link|iframe)\b[^>]*\b(?:src|href)=[\"']?(?:https?:)?//")
    assert not [p.name for p in pages if remote.search(p.read_text(encoding="utf-8"))], "a page loads a URL"

    found = inspect_offline(pages, tmp_path / "profile")
    with_math = {p.name for p in pages if "$" in p.read_text(encoding="utf-8")}
    assert "01_why_ad.html" in with_math
    problems = _problems(found, with_math)
    assert not problems, "\n".join(problems)
    assert found["01_why_ad.html"]["typeset"] > 20


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_docs_pages_render_their_formulas_offline(tmp_path):
    _require_browser()
    if importlib.util.find_spec("sphinx") is None or importlib.util.find_spec("myst_nb") is None:
        pytest.skip("the docs extra is not installed (pip install -e '.[docs]')")
    html = tmp_path / "html"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(ROOT / "docs"),
            str(html),
        ],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    pages = sorted(
        p
        for p in html.rglob("*.html")
        if not {"_static", "_modules"} & set(p.parts)
        and p.name not in {"genindex.html", "search.html", "py-modindex.html"}
    )
    assert {"index.html", "differentiation.html", "01_why_ad.html"} <= {p.name for p in pages}
    with_math = {p.name for p in pages if 'class="math' in p.read_text(encoding="utf-8")}
    assert {"01_why_ad.html", "getting-started.html", "measuring.html"} <= with_math
    found = inspect_offline(pages, tmp_path / "profile")
    problems = _problems(found, with_math)
    assert not problems, "\n".join(problems)


def test_the_checks_see_raw_tex_and_the_network(tmp_path):
    """A page whose MathJax comes from a CDN: the request is refused, and its formula stays as text."""
    _require_browser()
    page = tmp_path / "cdn.html"
    page.write_text(
        "<!doctype html><html><head><script src='https://cdn.example.org/mathjax/tex-chtml.js'></script>"
        "</head><body><p>The derivative is $\\cos x$.</p><div class='jupyter-widgets'></div></body></html>",
        encoding="utf-8",
    )
    found = inspect_offline([page], tmp_path / "profile")
    problems = "\n".join(_problems(found, {"cdn.html"}))
    for expected in [
        "a request left the machine: https://cdn.example.org",
        "MathJax did not load",
        "TeX left as text",
        "no formula typeset",
        "1 empty widget boxes",
    ]:
        assert expected in problems, problems
