"""The documentation: the site builds in strict mode, documents every public module, and every
public class documents each of its parameters (templated ones marked); README is a landing page."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import airflow_provider_dataarts
from airflow_provider_dataarts.get_provider_info import get_provider_info

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
# Public modules that get_provider_info does not list but users import.
ALSO_PUBLIC = (
    "airflow_provider_dataarts.exceptions",
    "airflow_provider_dataarts.assets",
    "airflow_provider_dataarts.plugins",
)


def documented_modules() -> list[str]:
    """Modules with a ``::: module`` block in the API reference: the one list of them."""
    return [
        match
        for page in sorted((DOCS / "reference").glob("*.md"))
        for match in re.findall(r"^::: ([\w.]+)\s*$", page.read_text(), flags=re.MULTILINE)
    ]


def public_modules() -> list[str]:
    info = get_provider_info()
    listed = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for e in info[kind]
        for m in e["python-modules"]
    ]
    links = [path.rsplit(".", 1)[0] for path in info.get("extra-links", [])]
    return sorted({*listed, *links, *ALSO_PUBLIC})


def public_classes() -> list[type]:
    classes = []
    for name in documented_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if inspect.isclass(value) and value.__module__ == name and not attr.startswith("_"):
                classes.append(value)
    return classes


def test_the_docs_build_in_strict_mode(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    # The API reference was rendered from the docstrings, not left as ::: lines.
    operators = (tmp_path / "site" / "reference" / "operators" / "index.html").read_text()
    assert 'id="airflow_provider_dataarts.operators.quality.RerunQualityJobOperator"' in operators
    assert ":::" not in operators


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    """Strict mode is on in mkdocs.yml itself, so `mkdocs build` alone refuses a broken link."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[gone](missing.md) and [anchor](index.md#no-such-anchor)\n")
    config = (REPO / "mkdocs.yml").read_text()
    config = re.sub(r"^nav:.*?(?=^\S)", "", config, flags=re.MULTILINE | re.DOTALL)
    config = re.sub(r"^  - mkdocstrings:.*", "", config, flags=re.MULTILINE | re.DOTALL)
    (tmp_path / "mkdocs.yml").write_text(config)
    result = subprocess.run(
        [str(Path(sys.executable).with_name("mkdocs")), "build", "--site-dir", str(tmp_path / "site")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode != 0
    assert "missing.md" in result.stderr
    assert "no-such-anchor" in result.stderr


def test_every_public_module_has_its_reference_block() -> None:
    documented = documented_modules()
    assert len(documented) == len(set(documented)), "a module is documented twice"
    missing = sorted(set(public_modules()) - set(documented))
    assert not missing, f"add a '::: module' block to a page of docs/reference/ for {missing}"


def test_every_public_class_documents_each_parameter_and_marks_templated_ones() -> None:
    problems = []
    for cls in public_classes():
        doc = inspect.getdoc(cls) or ""
        if not doc.strip():
            problems.append(f"{cls.__name__}: no docstring")
            continue
        if "__init__" not in vars(cls):
            continue
        params = dict(re.findall(r"^:param (\w+):(.*(?:\n(?!:)\s+.*)*)", doc, flags=re.MULTILINE))
        signature = inspect.signature(cls.__init__)
        names = [
            p.name
            for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        for name in names:
            if name not in params:
                problems.append(f"{cls.__name__}: no ':param {name}:'")
        for name in sorted(set(params) - set(names)):
            problems.append(f"{cls.__name__}: ':param {name}:' is not a parameter")
        for field in getattr(cls, "template_fields", ()):
            if field in params and "(templated)" not in params[field]:
                problems.append(f"{cls.__name__}: '{field}' is templated but not marked '(templated)'")
    assert not problems, "\n".join(problems)


def test_every_public_hook_method_documents_each_parameter() -> None:
    """The hook is called from users' own tasks: each public method says what its parameters are."""
    problems = []
    for cls in public_classes():
        if not cls.__name__.endswith("Hook"):
            continue
        for name, method in vars(cls).items():
            if name.startswith("_") or not inspect.isfunction(method) or name == "get_ui_field_behaviour":
                continue
            doc = inspect.getdoc(method) or ""
            params = set(re.findall(r"^:param (\w+):", doc, flags=re.MULTILINE))
            signature = inspect.signature(method)
            for param in signature.parameters.values():
                documented = param.name in params or param.kind is param.VAR_POSITIONAL
                if param.name != "self" and not documented:
                    problems.append(f"{cls.__name__}.{name}: no ':param {param.name}:'")
    assert not problems, "\n".join(problems)


def test_the_version_is_stated_alike_everywhere() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["version"] == airflow_provider_dataarts.__version__
    changelog = (REPO / "CHANGELOG.md").read_text()
    (latest,) = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, flags=re.MULTILINE)[:1]
    assert latest == project["version"], "CHANGELOG.md's newest entry is not the package version"


def test_readme_is_a_landing_page_whose_links_reach_the_docs() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.encode()) <= 12 * 1024, f"README.md is {len(readme.encode())} bytes"
    local = [link for link in re.findall(r"\]\(([^)]+)\)", readme) if "://" not in link]
    for link in local:
        target = REPO / link.split("#")[0]
        assert target.exists(), f"README links to {link}, which does not exist"
        assert "#" not in link, f"README links to an anchor ({link}): pages change, anchors break"
    # Within one click: the connection, the errors, a clear, waiting on a scheduled job.
    for page in ("connection.md", "troubleshooting.md", "lifecycle.md", "lineage-assets.md"):
        assert f"docs/{page}" in local, f"README does not link docs/{page}"


@pytest.mark.parametrize("script", ["scripts/lock.sh", "scripts/setup-venv.sh"])
def test_the_environment_installs_from_the_lock(script: str) -> None:
    text = (REPO / script).read_text()
    assert "constraints/test.txt" in text
    lock = (REPO / "constraints" / "test.txt").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock, flags=re.MULTILINE))
    for name in ("apache-airflow", "mkdocs", "mkdocs-material", "twine", "pytest"):
        assert name in pins, f"{name} is not pinned in constraints/test.txt"


ERROR_TYPE = re.compile(r"(Error|Exception|Timeout|NotFound|Exceeded)$")


def _called_name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def error_messages() -> list[tuple[str, list[str]]]:
    """
    Where the package makes an error (a ``raise``, an exception built to be raised or returned, a
    trigger's error or timeout event): the fixed pieces of its message text, at least 12 characters
    each (the text between the f-string's fields).
    """
    found = []
    for path in sorted((REPO / "airflow_provider_dataarts").rglob("*.py")):
        if "emulator" in path.parts:  # the emulator's own errors are answers to clients, not ours
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                made = node.exc
            elif isinstance(node, ast.Call) and (
                ERROR_TYPE.search(_called_name(node.func))
                or (
                    _called_name(node.func) == "_event"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value in ("error", "timeout")
                )
            ):
                made = node
            else:
                continue
            texts = [
                c.value for c in ast.walk(made) if isinstance(c, ast.Constant) and isinstance(c.value, str)
            ]
            pieces = [p.strip(" .:;,()'\"") for text in texts for p in re.split(r"\{[^}]*\}", text)]
            pieces = [p for p in pieces if len(p) >= 12]
            where = f"{path.relative_to(REPO)}:{made.lineno}"
            if pieces and where not in dict(found):  # a raise's call is also met as a call
                found.append((where, pieces))
    return found


def test_troubleshooting_explains_every_error_message() -> None:
    """Each error the package can raise is on the troubleshooting page (or the connection page's
    Test-button table): a new ``raise`` needs its line there."""
    pages = " ".join((DOCS / page).read_text() for page in ("troubleshooting.md", "connection.md"))
    text = re.sub(r"\s+", " ", pages)
    messages = error_messages()
    assert len(messages) > 40  # the scan found the package's raises
    missing = [
        f"{where}: {pieces[0]!r}"
        for where, pieces in messages
        if not any(re.sub(r"\s+", " ", piece) in text for piece in pieces)
    ]
    assert not missing, "explain these in docs/troubleshooting.md:\n" + "\n".join(missing)


def test_troubleshooting_names_every_error_type() -> None:
    page = (DOCS / "troubleshooting.md").read_text()
    types = [cls.__name__ for cls in public_classes() if issubclass(cls, Exception)]
    assert "DataArtsAPIError" in types and "DataArtsInstanceNotFound" in types
    assert not [name for name in types if f"`{name}`" not in page]
