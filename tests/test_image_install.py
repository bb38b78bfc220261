"""What the Dockerfile's install steps do, done for real in a scratch venv: requirements.lock
with --require-hashes, then the project with --no-deps from a copy of the build context that
.dockerignore leaves; the `diaspor` command then runs. No Docker engine is needed (none is
here): the image's Python and platform are this machine's kind (CPython 3.11, Linux x86_64),
which the lock is made for. Needs the package registry; skips, saying so, without it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import need
from tests.test_compose_file import (
    DOCKERIGNORE,
    LOCK,
    ROOT,
    DockerIgnore,
    dockerfile_copies,
    pip_installs,
    read_lock,
)

# ~45 s here (most of it fetching and unpacking the lock's wheels): longer than a unit test,
# and the file starts early (see conftest).
pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=50)]


def pip_env() -> dict[str, str]:
    """pip as the image has it: the default index only. This machine's pip configuration
    (extra indexes, find-links, constraints) is left out: files from elsewhere may not carry
    the lock's hashes, and the image never sees them. Certificates, proxies and a replacement
    index (PIP_INDEX_URL) stay, since they are how this machine reaches the registry."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "PIP_NO_INDEX")
    }
    return env | {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def build_context(dest: Path) -> Path:
    """The Dockerfile's COPY sources, as the build context holds them after .dockerignore."""
    dest.mkdir()
    ignore = DockerIgnore(DOCKERIGNORE.read_text(encoding="utf-8"))
    for source in (s for sources in dockerfile_copies() for s in sources):
        path = ROOT / source
        if path.is_dir():
            shutil.copytree(
                path,
                dest / source,
                ignore=lambda folder, names: [
                    n
                    for n in names
                    if ignore.excluded((Path(folder) / n).relative_to(ROOT).as_posix())
                ],
            )
        else:
            shutil.copy2(path, dest / source)
    return dest


def test_the_lock_installs_by_hash_and_the_project_on_top_runs(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = pip_env()
    pins = read_lock(LOCK.read_text(encoding="utf-8"))

    # Is the registry there? One small pinned wheel, fetched the way the install will.
    name = "six" if "six" in pins else next(iter(pins))
    fetch = ["download", "--quiet", "--no-deps", "--dest", str(tmp_path / "probe")]
    probe = subprocess.run(
        [python, "-m", "pip", *fetch, f"{name}=={pins[name].version}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    last = (probe.stderr.strip().splitlines() or ["?"])[-1]
    need(probe.returncode == 0, f"the package registry is not reachable from here: {last}")

    context = build_context(tmp_path / "src")
    installs = pip_installs()
    assert installs, "the Dockerfile installs nothing with pip"
    for _, args in installs:  # in the Dockerfile's order, from its WORKDIR (/src)
        args = [str(context) if a == "/src" else a for a in args]
        done = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", *args],
            cwd=context,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"pip install {' '.join(args)}:\n{done.stderr[-3000:]}"

    # Exactly the lock's releases are installed, and the project: nothing resolved besides.
    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {
        p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(listed.stdout)
    }
    assert installed.pop("diaspor") == "0.1.0"
    installed.pop("pip")
    assert installed == {n: p.version for n, p in pins.items()}
    check = subprocess.run([python, "-m", "pip", "check"], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    # The command the image runs, and one that needs the migrations packaged with it.
    diaspor = str(venv / "bin" / "diaspor")
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("DIASPOR_")}
    run_env["DIASPOR_DATA_DIR"] = str(tmp_path / "data")
    helped = subprocess.run(
        [diaspor, "--help"], cwd=tmp_path, env=run_env, capture_output=True, text=True
    )
    assert helped.returncode == 0, helped.stderr
    assert "serve" in helped.stdout and "worker" in helped.stdout
    checked = subprocess.run(
        [diaspor, "db", "check"], cwd=tmp_path, env=run_env, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "models and migrations agree" in checked.stdout + checked.stderr
