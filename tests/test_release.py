"""The release artifact: the wheel built from this tree, installed into a fresh virtual
environment and run from an empty folder, as an operator would, on the backend under test.

Building and installing take a while (the runtime dependencies come from pip's cache), so
both happen once per session and the tests are few."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cms import migrations
from tests.conftest import BACKEND, TEST_SECRET_KEY, ScratchDatabases

pytestmark = pytest.mark.release

ROOT = Path(__file__).resolve().parents[1]
# Source folder -> where the wheel puts it.
SHIPPED = {"cms": "cms", "admin": "admin", "migrations": "cms/migration_scripts"}
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.sqlite3*", ".env"
)


def run(
    command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip wheel`` of a copy of this tree: setuptools leaves build/ behind in the folder
    it builds, and a stale build/ would put deleted files into the next wheel."""
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE, dirs_exist_ok=True)
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(dist), str(source)])
    (built,) = dist.glob("cms-*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh venv holding the wheel and its runtime dependencies."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", str(venv)])
    requirement = f"{wheel}[mysql]" if BACKEND == "mariadb" else str(wheel)
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", requirement])
    return venv / "bin"


def test_the_wheel_carries_every_source_file_and_nothing_else(wheel: Path) -> None:
    expected = {
        f"{target}/{path.relative_to(ROOT / source).as_posix()}"
        for source, target in SHIPPED.items()
        for path in (ROOT / source).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name for name in archive.namelist() if ".dist-info/" not in name}
    assert not expected - shipped, (
        "missing from the wheel; list the package or its files under [tool.setuptools] "
        f"in pyproject.toml: {sorted(expected - shipped)}"
    )
    assert not shipped - expected, f"in the wheel but not in the tree: {sorted(shipped - expected)}"
    assert "cms/static/swagger-ui-init.js" in shipped
    assert "cms/migration_scripts/env.py" in shipped


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def site(
    installed: Path, tmp_path: Path, scratch_databases: ScratchDatabases
) -> Iterator[tuple[Path, dict[str, str]]]:
    """An empty folder and the environment an operator would set, nothing from this tree."""
    folder = tmp_path / "site"
    folder.mkdir()
    env = {
        "PATH": f"{installed}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "CMS_ENVIRONMENT": "production",
        "CMS_SECRET_KEY": TEST_SECRET_KEY,
    }
    # On SQLite the default URL: a cms.sqlite3 file in the folder the commands run in.
    if BACKEND == "mariadb":
        env["CMS_DATABASE_URL"] = scratch_databases.create()
    yield folder, env


def test_an_installed_wheel_migrates_and_serves_from_an_empty_folder(
    installed: Path, site: tuple[Path, dict[str, str]]
) -> None:
    folder, env = site

    def cms(*arguments: str) -> str:
        return run([str(installed / "cms"), *arguments], cwd=folder, env=env).stdout

    show = "from cms import migrations; print(migrations.MIGRATIONS_DIR)"
    scripts = run([str(installed / "python"), "-c", show], cwd=folder, env=env).stdout.strip()
    assert Path(scripts).is_relative_to(installed.parent), f"not the installed copy: {scripts}"

    cms("migrate")
    assert f"schema: at head ({migrations.head_revision()})" in cms("check")
    assert f"{migrations.head_revision()} (head)" in cms("alembic", "current")
    if BACKEND == "sqlite":
        assert (folder / "cms.sqlite3").is_file()
    cms("createsuperuser", "--email", "ops@example.com", "--password", "a long password")

    port = _free_port()
    log = folder / "serve.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(installed / "cms"), "serve", "--port", str(port)],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_served(server, f"{base}/healthz", log)
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/readyz").json() == {"status": "ok"}
            assert client.get("/admin/login").status_code == 200
            # The readers' site: its templates and stylesheet come from the wheel.
            home = client.get("/")
            assert home.status_code == 200 and "<main" in home.text
            sheet = re.search(r'href="(/site/static/site\.[0-9a-f]+\.css)"', home.text)
            assert sheet is not None and client.get(sheet.group(1)).status_code == 200
            docs = client.get("/docs")
            assert docs.status_code == 200
            assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
            assert client.get("/docs/assets/swagger-ui-init.js").status_code == 200
            token = client.post(
                "/auth/token", data={"username": "ops@example.com", "password": "a long password"}
            )
            assert token.status_code == 200, token.text
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert server.returncode in (0, -signal.SIGTERM), log.read_text()
    assert "Application shutdown complete" in log.read_text()


def _wait_until_served(server: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, f"cms serve exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"cms serve did not answer:\n{log.read_text()}"
        time.sleep(0.2)
