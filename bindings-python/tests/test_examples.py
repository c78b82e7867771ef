"""The examples run to completion, and the same framework source gives the
same outcomes on pymesos (PyPI) and on meseta."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import EXAMPLES


def run(*args, timeout=180):
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def test_launch_commands(cluster):
    result = run(
        EXAMPLES / "launch_commands.py", "--master", cluster.master.address, "--tasks", "6"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "TASK_FINISHED=6"


def test_remote_function_call(cluster):
    result = run(EXAMPLES / "remote" / "cluster_call.py", "--master", cluster.master.address)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "factorial(20) = 2432902008176640000" in result.stdout
    assert "sqrt(-1) raised remotely: math domain error" in result.stdout


@pytest.mark.parametrize(
    "command, outcome",
    [
        ("true", "TASK_FINISHED=4"),
        ("exit 3", "TASK_FAILED=4"),
    ],
)
def test_pymesos_and_meseta_agree(cluster, command, outcome):
    pytest.importorskip("pymesos", reason="pymesos is not installed; `make test` installs it")
    results = {}
    for api in ("pymesos", "meseta"):
        result = run(
            EXAMPLES / "launch_commands.py",
            "--master",
            cluster.master.address,
            "--tasks",
            "4",
            "--command",
            command,
            "--api",
            api,
        )
        results[api] = result.stdout.strip().splitlines()[-1]
    assert results == {"pymesos": outcome, "meseta": outcome}
