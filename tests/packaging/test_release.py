"""
The release a platform team installs: the sdist and wheel build, pass ``twine check``, carry what
a packager needs, and the wheel works on its own in a clean virtualenv (nothing else installed,
versions from the same lock): ``airflow providers list`` shows the provider, and an example DAG
from the sdist runs with ``airflow dags test`` against the emulator started from that virtualenv.

scripts/test.sh runs this module in its own pytest, beside the main suite (it mostly waits on
installs and on Airflow's start-up).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
SDIST_MUST_CARRY = (
    "LICENSE",
    "CHANGELOG.md",
    "README.md",
    "pyproject.toml",
    "mkdocs.yml",
    "docs/index.md",
    "docs/troubleshooting.md",
    "tests/conftest.py",
    "tests/packaging/test_release.py",
    "example_dags/example_dataarts_quality.py",
    "example_dags/example_dataarts_script.py",
    "constraints/test.txt",
    "airflow_provider_dataarts/__init__.py",
)


def run(*args: str | Path, timeout: float = 300, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,  # type: ignore[call-overload]
    )
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without its Airflow and Python settings: the venv sees only its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV"))}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__LOAD_EXAMPLES="False", **extra)
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    run(UV, "build", "--quiet", "--out-dir", out, REPO, cwd=REPO)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel, "dir": out}


@pytest.fixture(scope="module")
def sdist_tree(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("sdist")
    with tarfile.open(dist["sdist"]) as archive:
        archive.extractall(target, filter="data")
    (root,) = target.iterdir()
    return root


@pytest.fixture(scope="module")
def clean_venv(dist: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtualenv holding the built wheel and its dependencies only, pinned by the lock."""
    venv = tmp_path_factory.mktemp("clean") / "venv"
    run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    run(
        UV, "pip", "install", "--quiet", "--python", python,
        "--constraints", REPO / "constraints" / "test.txt", dist["wheel"],
        timeout=600,
    )  # fmt: skip
    return venv


def test_the_sdist_and_wheel_are_named_for_this_version(dist: dict[str, Path]) -> None:
    assert dist["sdist"].name == f"airflow_provider_dataarts-{VERSION}.tar.gz"
    assert dist["wheel"].name == f"airflow_provider_dataarts-{VERSION}-py3-none-any.whl"


def test_twine_check_passes(dist: dict[str, Path]) -> None:
    result = run(sys.executable, "-m", "twine", "check", "--strict", dist["sdist"], dist["wheel"])
    print(result.stdout)
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_the_sdist_carries_what_a_packager_needs(sdist_tree: Path) -> None:
    missing = [path for path in SDIST_MUST_CARRY if not (sdist_tree / path).is_file()]
    assert not missing, f"the sdist lacks {missing}"
    assert "Apache License" in (sdist_tree / "LICENSE").read_text()
    assert f"## [{VERSION}]" in (sdist_tree / "CHANGELOG.md").read_text()


def test_the_wheel_carries_the_licence_metadata_and_entry_points(dist: dict[str, Path]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = wheel.namelist()
        info = f"airflow_provider_dataarts-{VERSION}.dist-info"
        metadata = wheel.read(f"{info}/METADATA").decode()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    assert f"{info}/licenses/LICENSE" in names
    assert not any(name.startswith(("tests/", "example_dags/", "docs/")) for name in names)
    assert f"Version: {VERSION}" in metadata
    assert "License-Expression: Apache-2.0" in metadata
    assert "airflow_provider_dataarts.get_provider_info:get_provider_info" in entry_points
    assert "dataarts-emulator" in entry_points


def test_airflow_in_a_clean_virtualenv_lists_the_provider(clean_venv: Path, tmp_path: Path) -> None:
    python = clean_venv / "bin" / "python"
    where = run(python, "-c", "import airflow_provider_dataarts as p; print(p.__file__)", cwd=tmp_path)
    assert str(clean_venv) in where.stdout, "the clean virtualenv imported the provider from elsewhere"
    listed = run(
        clean_venv / "bin" / "airflow", "providers", "list", "-o", "json",
        cwd=tmp_path, env=clean_env(tmp_path / "home"), timeout=300,
    )  # fmt: skip
    providers = {p["package_name"]: p["version"] for p in json_lines(listed.stdout)}
    assert providers.get("airflow-provider-dataarts") == VERSION, providers


def json_lines(stdout: str) -> list[dict[str, str]]:
    """The JSON list an ``airflow ... -o json`` command printed, past any log lines before it."""
    (line,) = [line for line in stdout.splitlines() if line.startswith(("[{", "[]"))]
    return list(json.loads(line))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def emulator_from_clean_venv(clean_venv: Path, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [clean_venv / "bin" / "python", "-m", "airflow_provider_dataarts.emulator", "--port", str(port),
         "--run-seconds", "1", "--script-seconds", "1", "--quiet"],
        cwd=tmp_path, env=clean_env(tmp_path / "home"), stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            assert process.poll() is None, "the emulator exited at start"
            try:
                with urllib.request.urlopen(f"{url}/_emulator/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def migrated_home(clean_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One AIRFLOW_HOME with a migrated SQLite database, made by the clean virtualenv's Airflow."""
    home = tmp_path_factory.mktemp("home")
    run(clean_venv / "bin" / "airflow", "db", "migrate", cwd=home, env=clean_env(home), timeout=300)
    return home


@pytest.mark.parametrize("dag_id", ["example_dataarts_quality", "example_dataarts_script"])
def test_an_example_dag_from_the_sdist_runs_in_the_clean_virtualenv(
    dag_id: str, clean_venv: Path, sdist_tree: Path, migrated_home: Path, emulator_from_clean_venv: str
) -> None:
    url = emulator_from_clean_venv
    connection = {
        "conn_type": "dataarts", "host": url, "login": "AK", "password": "SK",
        "extra": {"project_id": "p1", "workspace": "w1", "retry_wait": 0.2},
    }  # fmt: skip
    env = clean_env(
        migrated_home,
        AIRFLOW__CORE__DAGS_FOLDER=str(sdist_tree / "example_dags"),
        AIRFLOW_CONN_DATAARTS_DEFAULT=json.dumps(connection),
    )
    airflow = clean_venv / "bin" / "airflow"
    test = run(airflow, "dags", "test", dag_id, cwd=migrated_home, env=env, timeout=300)
    runs = run(airflow, "dags", "list-runs", dag_id, "-o", "json", cwd=migrated_home, env=env)
    states = [r["state"] for r in json_lines(runs.stdout)]
    assert states == ["success"], f"{states}\n{test.stdout[-4000:]}\n{test.stderr[-4000:]}"
    output = test.stdout + test.stderr
    assert "DataArts" in output
