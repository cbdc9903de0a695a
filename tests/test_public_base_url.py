"""Without PUBLIC_BASE_URL, links use where the app is served: `PORT=5201 make run` texts
links on :5201, not :5000 (broken photos and links in the phone simulator)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import load_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:5000"),
        ({"PORT": "5201"}, "http://127.0.0.1:5201"),
        ({"HOST": "0.0.0.0", "PORT": "8000"}, "http://127.0.0.1:8000"),
        ({"HOST": "192.168.1.20", "PORT": "5201"}, "http://192.168.1.20:5201"),
        ({"HOST": "::1", "PORT": "5201"}, "http://[::1]:5201"),
        (
            {"PORT": "5201", "PUBLIC_BASE_URL": "https://sms.example.com/"},
            "https://sms.example.com",
        ),
    ],
)
def test_the_default_public_base_url_follows_host_and_port(monkeypatch, tmp_path, env, expected):
    for name in ("HOST", "PORT", "PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_config(str(tmp_path))["PUBLIC_BASE_URL"] == expected


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ((["make", "run"], {}), "http://127.0.0.1:5000"),
        ((["make", "run"], {"PORT": "5201"}), "http://127.0.0.1:5201"),
        ((["make", "run", "PORT=5202"], {}), "http://127.0.0.1:5202"),
    ],
)
def test_make_run_hands_host_and_port_to_the_app(tmp_path, how, expected):
    """`make run` with a stand-in `flask` that prints the app's PUBLIC_BASE_URL."""
    command, extra_env = how
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.symlink_to(sys.executable)
    (venv / "bin" / "uv").touch()
    (venv / ".installed").touch()  # newer than pyproject.toml: nothing to install
    flask = venv / "bin" / "flask"
    flask.write_text(
        "#!/bin/sh\n"
        f'exec "{sys.executable}" -c "from app.config import load_config; '
        f"print('URL', load_config('{tmp_path}')['PUBLIC_BASE_URL'])\"\n"
    )
    flask.chmod(flask.stat().st_mode | stat.S_IEXEC)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"HOST", "PORT", "PUBLIC_BASE_URL", "MAKEFLAGS", "MFLAGS"}
    }
    env.update(extra_env, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [*command, f"VENV={venv}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    urls = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("URL ")]
    assert urls == [expected] * 3  # db upgrade, demo, run
