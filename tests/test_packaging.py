"""environment.yml (conda-forge) and pyproject.toml (PyPI) describe the same environment.

- the core dependencies have identical names and version specifiers;
- every package of the checked extras is in environment.yml, or in
  ``NOT_IN_CONDA`` with the reason why not;
- environment.yml lists nothing that pyproject.toml does not know about;
- each conda spec parses with ``rattler.MatchSpec`` (py-rattler, offline).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
ENVIRONMENT = ROOT / "environment.yml"

# Extras whose every package must be in environment.yml (the conda environment
# is for developing, testing, building the docs and using JupyterLab).
# `compare` and `bench` are optional there (torch, jax: heavy, and named
# differently on conda-forge).
CHECKED_EXTRAS = ("test", "docs", "lab", "dev")

# PyPI name -> conda-forge name, where the two differ.
CONDA_NAME = {
    "torch": "pytorch",
}

# Packages of CHECKED_EXTRAS that environment.yml may leave out, each with the
# reason why. An entry that is no longer needed makes the tests fail.
NOT_IN_CONDA: dict[str, str] = {
    # "name": "why it cannot or need not be in environment.yml",
}

# environment.yml entries that are not PyPI dependencies of adkit.
CONDA_ONLY = {
    "python": "the interpreter; checked against requires-python",
    "pip": "to `pip install -e .` adkit itself into the environment",
}

_CONDA_SPEC = re.compile(
    r"""^\s*
    (?:(?P<channel>[A-Za-z0-9_.\-/]+)::)?      # conda-forge::
    (?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)     # numpy
    \s*(?P<version>[^\s\[]*)                   # >=1.26   1.26.*   =1.26
    (?:\s+(?P<build>[^\s\[]+))?                # build string
    \s*$""",
    re.VERBOSE,
)


def normalize(name: str) -> str:
    """PEP 503 name normalization (conda-forge names are already of this form)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def conda_to_specifier(version: str) -> SpecifierSet:
    """Translate a conda version constraint into the equivalent PEP 440 set.

    >>> str(conda_to_specifier(">=1.26"))
    '>=1.26'
    >>> sorted(str(s) for s in conda_to_specifier("1.26.*,<3"))
    ['<3', '==1.26.*']
    >>> str(conda_to_specifier("=1.26"))
    '==1.26.*'
    """
    if "|" in version:
        raise InvalidSpecifier(f"conda alternatives ('|') have no PEP 440 form: {version!r}")
    parts = []
    for part in filter(None, (p.strip() for p in version.split(","))):
        if part.startswith("=") and not part.startswith("=="):
            part = "==" + part[1:].removesuffix(".*") + ".*"  # conda "=1.26" is "1.26.*"
        elif part[0].isdigit():
            part = "==" + part  # "1.26" or "1.26.*"
        parts.append(part)
    return SpecifierSet(",".join(parts))


def load_pyproject() -> dict:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)


def load_environment() -> dict:
    with ENVIRONMENT.open(encoding="utf-8") as f:
        env = yaml.safe_load(f)
    assert isinstance(env, dict), f"{ENVIRONMENT.name} is not a YAML mapping"
    return env


def conda_specs(env: dict) -> list[str]:
    """The conda (not pip) entries of environment.yml's dependencies."""
    return [d for d in env.get("dependencies") or [] if isinstance(d, str)]


def pip_specs(env: dict) -> list[str]:
    """The entries of an optional ``- pip: [...]`` block."""
    out: list[str] = []
    for d in env.get("dependencies") or []:
        if isinstance(d, dict):
            assert set(d) == {"pip"}, f"unexpected mapping in dependencies: {d!r}"
            out.extend(d["pip"] or [])
    return out


def parse_conda(spec: str) -> tuple[str, str]:
    m = _CONDA_SPEC.match(spec)
    if m is None:
        raise ValueError(f"not a conda match spec of the form 'name [version [build]]': {spec!r}")
    return normalize(m["name"]), m["version"] or ""


def environment_packages(env: dict) -> dict[str, SpecifierSet]:
    """name -> version specifier of every package in environment.yml (conda and pip)."""
    out: dict[str, SpecifierSet] = {}
    entries = [(s, *parse_conda(s)) for s in conda_specs(env)]
    for spec in pip_specs(env):
        req = Requirement(spec)
        entries.append((spec, normalize(req.name), str(req.specifier)))
    for spec, name, version in entries:
        assert name not in out, f"{name} is listed twice in {ENVIRONMENT.name} ({spec!r})"
        try:
            out[name] = conda_to_specifier(version)
        except InvalidSpecifier as e:
            msg = f"{ENVIRONMENT.name}: cannot read the version of {spec!r}: {e}"
            pytest.fail(msg, pytrace=False)
    return out


def requirements(reqs: list[str]) -> dict[str, SpecifierSet]:
    out = {}
    for r in reqs:
        req = Requirement(r)
        out[normalize(req.name)] = req.specifier
    return out


def conda_name(pypi_name: str) -> str:
    return CONDA_NAME.get(pypi_name, pypi_name)


def spec_str(s: SpecifierSet) -> str:
    return str(s) or "(any version)"


def show(mapping: dict) -> str:
    return "\n".join(f"  {k}: {v}" for k, v in sorted(mapping.items())) or "  (none)"


# ------------------------------------------------------------------ tests


def test_environment_header():
    env = load_environment()
    assert env.get("name") == "adkit"
    assert env.get("channels") == ["conda-forge"], "conda-forge must be the only channel"
    assert set(env) <= {"name", "channels", "dependencies"}, sorted(env)


def test_python_matches_requires_python():
    env = environment_packages(load_environment())
    requires = SpecifierSet(load_pyproject()["project"]["requires-python"])
    assert "python" in env, f"{ENVIRONMENT.name} does not pin python"
    assert env["python"] == requires, f"python {env['python']} != requires-python {requires}"


def test_core_dependencies_identical():
    core = requirements(load_pyproject()["project"]["dependencies"])
    env = environment_packages(load_environment())
    missing = {n: spec_str(s) for n, s in core.items() if conda_name(n) not in env}
    differ = {
        n: f"pyproject {spec_str(s)} != environment.yml {spec_str(env[conda_name(n)])}"
        for n, s in core.items()
        if conda_name(n) in env and env[conda_name(n)] != s
    }
    assert not missing and not differ, (
        f"core dependencies missing from {ENVIRONMENT.name}:\n{show(missing)}\n"
        f"core dependencies with different version specifiers:\n{show(differ)}"
    )


@pytest.mark.parametrize("extra", CHECKED_EXTRAS)
def test_extra_in_environment(extra):
    extras = load_pyproject()["project"]["optional-dependencies"]
    assert extra in extras, f"pyproject.toml has no [{extra}] extra"
    env = environment_packages(load_environment())
    missing = {
        n: f"{spec_str(s)} (conda-forge name: {conda_name(n)})"
        for n, s in requirements(extras[extra]).items()
        if conda_name(n) not in env and n not in NOT_IN_CONDA
    }
    assert not missing, (
        f"packages of the [{extra}] extra missing from {ENVIRONMENT.name} "
        f"(add them there, or to NOT_IN_CONDA with the reason):\n{show(missing)}"
    )


def test_allow_list_is_current():
    extras = load_pyproject()["project"]["optional-dependencies"]
    checked = set().union(*(requirements(extras[e]) for e in CHECKED_EXTRAS if e in extras))
    env = environment_packages(load_environment())
    stale = {
        n: "not in any checked extra" if n not in checked else "is in environment.yml after all"
        for n in NOT_IN_CONDA
        if n not in checked or conda_name(n) in env
    }
    assert not stale, f"remove these NOT_IN_CONDA entries:\n{show(stale)}"


def test_environment_lists_nothing_unknown():
    project = load_pyproject()["project"]
    known = {conda_name(n) for n in requirements(project["dependencies"])}
    for reqs in project.get("optional-dependencies", {}).values():
        known |= {conda_name(n) for n in requirements(reqs)}
    env = environment_packages(load_environment())
    unknown = {n: spec_str(s) for n, s in env.items() if n not in known | set(CONDA_ONLY)}
    assert not unknown, (
        f"{ENVIRONMENT.name} lists packages that pyproject.toml does not "
        f"(add them to an extra, or remove them):\n{show(unknown)}"
    )


def test_version_specifiers_agree():
    project = load_pyproject()["project"]
    env = environment_packages(load_environment())
    differ = {}
    for reqs in [project["dependencies"], *project.get("optional-dependencies", {}).values()]:
        for n, s in requirements(reqs).items():
            cn = conda_name(n)
            if cn in env and env[cn] != s:
                differ[cn] = f"pyproject {spec_str(s)} != environment.yml {spec_str(env[cn])}"
    assert not differ, f"version specifiers differ:\n{show(differ)}"


def test_conda_specs_parse_with_rattler():
    rattler = pytest.importorskip(
        "rattler",
        reason="py-rattler is not installed (it is in the [test] extra): "
        "environment.yml's conda specs were not checked with rattler.MatchSpec",
    )
    errors = {}
    for spec in conda_specs(load_environment()):
        try:
            ms = rattler.MatchSpec(spec, strict=True)
        except Exception as e:  # rattler raises its own InvalidMatchSpecError
            errors[spec] = f"{type(e).__name__}: {e}"
            continue
        name, version = parse_conda(spec)
        if ms.name.normalized != name:
            errors[spec] = f"rattler reads the name {ms.name.normalized!r}, this test {name!r}"
        elif (ms.version or "") and conda_to_specifier(ms.version) != conda_to_specifier(version):
            errors[spec] = f"rattler reads the version {ms.version!r}, this test {version!r}"
    assert not errors, f"invalid conda specs in {ENVIRONMENT.name}:\n{show(errors)}"
