"""The API reference: one page per topic under docs/api/, every public name of adkit documented on one.

The Sphinx build (make docs, -W) warns about an undocumented name too; this
test says which one without a build. (docs/conf.py is imported as a module: it
only defines settings and functions at import.)
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import adkit

DOCS = Path(__file__).resolve().parents[1] / "docs"
TOPICS = ["differentiation", "engines", "compile", "views", "measuring", "extending", "functions", "cli"]


def _conf():
    spec = importlib.util.spec_from_file_location("adkit_docs_conf", DOCS / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_public_name_is_documented_on_a_topic_page():
    conf = _conf()
    pages = conf.API_PAGES
    assert pages == [f"api/{name}.rst" for name in sorted([*TOPICS, "index"])]
    assert conf.undocumented_names() == []


def test_a_missing_name_is_caught(monkeypatch):
    conf = _conf()
    monkeypatch.setattr(adkit, "not_documented_anywhere", lambda: None, raising=False)
    monkeypatch.setattr(adkit, "__all__", [*adkit.__all__, "not_documented_anywhere"])
    assert conf.undocumented_names() == ["not_documented_anywhere"]


def test_the_index_lists_every_topic_page_once():
    index = (DOCS / "api" / "index.rst").read_text(encoding="utf-8")
    toctree = index.split(".. toctree::", 1)[1]
    lines = [line.strip() for line in toctree.splitlines()]
    listed = [line for line in lines if line and not line.startswith(":")]
    assert listed == TOPICS
    assert sorted(p.stem for p in (DOCS / "api").glob("*.rst")) == sorted([*TOPICS, "index"])


@pytest.mark.parametrize("topic", TOPICS)
def test_each_topic_page_has_a_title_and_sections(topic):
    text = (DOCS / "api" / f"{topic}.rst").read_text(encoding="utf-8")
    title = text.splitlines()[1]
    assert text.startswith("=" * len(title)), f"{topic}.rst does not start with a title"
    sections = re.findall(r"^(.+)\n-{3,}$", text, re.MULTILINE)
    assert len(sections) >= 2, f"{topic}.rst has no sections for its table of contents"


def test_the_command_line_help_is_generated_for_the_cli_page():
    pages = _conf().cli_help()
    assert set(pages) >= {"adkit", "diff"}
    assert pages["adkit"].startswith("usage: adkit")
    assert "--at" in pages["diff"]
