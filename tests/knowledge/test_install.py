"""A real (non-editable) install ships the knowledge data and runs outside the repository.

Builds a wheel from a copy of the repository, installs it with --no-deps into a fresh venv, and lends
that venv the test interpreter's third-party packages through a .pth file (paths only: the editable
install's import hook is not processed there). The installed `knowledge` package must then be the
one inside the new venv, and `framework-advisor knowledge check` must pass from a directory outside
the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IGNORE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis",
                                ".pytest_cache", ".ruff_cache", "tests", "*.db", "*.db-*")

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def _has_build_backend() -> bool:
    try:
        setuptools, _ = version("setuptools"), version("wheel")
    except PackageNotFoundError:
        return False
    return int(setuptools.split(".")[0]) >= 69


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=IGNORE)  # build from a copy: the build must not touch the repo
    dist = tmp / "dist"
    # Build offline with this interpreter's setuptools when it is new enough for pyproject.toml;
    # otherwise pip builds in an isolated environment (which fetches setuptools>=69, as `make` does).
    offline = ["--no-build-isolation"] if _has_build_backend() else []
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", *offline, "-w", str(dist), str(src)], cwd=tmp)
    wheels = list(dist.glob("framework_advisor-*.whl"))
    assert len(wheels) == 1, wheels

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    vpy = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(vpy), "install", "--quiet", "--no-deps", "--no-index",
          str(wheels[0])], cwd=tmp)
    site = Path(_run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp).stdout.strip())
    deps = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    (site / "zz_test_dependencies.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    return venv


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["FRAMEWORK_ADVISOR_DB"] = os.devnull  # nothing here should open a database
    return env


def test_installed_package_is_used_not_the_repository(installed: Path, tmp_path: Path) -> None:
    proc = _run([str(installed / "bin" / "python"), "-c",
                 "import knowledge, rules, bot; print(knowledge.__file__); print(rules.__file__)"],
                cwd=tmp_path, env=_env())
    for line in proc.stdout.split():
        path = Path(line).resolve()
        assert installed.resolve() in path.parents, f"{path} is not inside the new venv"
        assert REPO not in path.parents
    tomls = sorted(p.name for p in (Path(proc.stdout.split()[0]).parent).glob("*.toml"))
    assert tomls == sorted(p.name for p in (REPO / "knowledge").glob("*.toml"))


def test_installed_console_script_checks_the_knowledge(installed: Path, tmp_path: Path) -> None:
    proc = _run([str(installed / "bin" / "framework-advisor"), "knowledge", "check"], cwd=tmp_path, env=_env())
    assert proc.stdout.strip().splitlines()[-1] == "ok"
    assert "error:" not in proc.stdout


def test_installed_console_script_recommends(installed: Path, tmp_path: Path) -> None:
    proc = _run([str(installed / "bin" / "framework-advisor"), "recommend", "--answers",
                 '{"app_type": "static_site"}'], cwd=tmp_path, env=_env())
    assert '"recommendation": "flask"' in proc.stdout
