"""A real Meseta cluster for the binding's tests: `meseta master` and
`meseta agent` processes on loopback ports picked at run time, each with its
own work dir and log, which tests can kill and restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
MESETA = Path(os.environ.get("MESETA_BINARY", TARGET / "debug" / "meseta"))
EXAMPLES = ROOT / "examples" / "python"
DEADLINE = 60.0


def wait_for(what: str, predicate: Callable[[], Any], deadline: float = DEADLINE) -> Any:
    """Polls ``predicate`` until it returns something true, or fails."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {deadline}s waiting for {what}")


def get_json(address: str, path: str) -> Any:
    with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as response:
        return json.load(response)


class Process:
    def __init__(self, name: str, args: List[str], root: Path) -> None:
        self.name = name
        self.args = args
        self.work_dir = root / name
        self.log_path = root / f"{name}.log"
        self.proc: Optional[subprocess.Popen] = None
        self.address = ""

    def start(self) -> Process:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        address_file = self.work_dir / "address"
        if address_file.exists():
            address_file.unlink()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(MESETA), *self.args, "--work-dir", str(self.work_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def ready() -> str:
            assert self.proc is not None and self.proc.poll() is None, (
                f"{self.name} exited; see {self.log_path}:\n{self.log_path.read_text()[-3000:]}"
            )
            return address_file.exists() and address_file.read_text().strip()

        self.address = wait_for(f"{self.name} to listen", ready)
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster:
    """One master (fast allocation and agent health checks) and N agents."""

    def __init__(self, root: Path, agents: int, resources: str) -> None:
        assert MESETA.exists(), f"{MESETA} is missing: run `cargo build --bins` first"
        self.root = root
        self.master = Process(
            "master",
            [
                "master",
                "--ip",
                "127.0.0.1",
                "--port",
                "0",
                "--allocation-interval",
                "100ms",
                "--agent-ping-timeout",
                "300ms",
                "--max-agent-ping-timeouts",
                "3",
            ],
            root,
        ).start()
        self.agents = [
            Process(
                f"agent-{i}",
                [
                    "agent",
                    "--master",
                    self.master.address,
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--resources",
                    resources,
                    # A cgroup root of its own: agents of tests running side
                    # by side must not take each other's containers for orphans.
                    "--cgroups-root",
                    f"meseta-test/{root.name}-agent-{i}",
                ],
                root,
            ).start()
            for i in range(agents)
        ]
        self.wait_for_agents(agents)

    def wait_for_agents(self, count: int) -> None:
        wait_for(f"{count} active agents", lambda: self.metric("master/slaves_active") == count)

    def metric(self, key: str) -> Any:
        try:
            return get_json(self.master.address, "/metrics/snapshot").get(key)
        except OSError:
            return None

    def restart_master(self) -> None:
        """Kills the master (SIGKILL) and starts it again on the same port."""
        port = self.master.address.rsplit(":", 1)[1]
        self.master.kill()
        at = self.master.args.index("--port")
        self.master.args[at + 1] = port
        self.master.start()

    def restart_agent(self, index: int) -> None:
        """Kills agent ``index`` (SIGKILL) and starts it again on its work dir."""
        self.agents[index].kill()
        self.agents[index].start()

    def stop(self) -> None:
        for process in [*self.agents, self.master]:
            process.stop()


@pytest.fixture
def cluster(tmp_path: Path):
    cluster = Cluster(tmp_path, agents=2, resources="cpus:2;mem:1024;disk:1024")
    try:
        yield cluster
    finally:
        cluster.stop()


class Recorder:
    """A scheduler or executor that records every callback, in order; tests
    wait on what they expect with deadlines."""

    def __init__(self) -> None:
        self.events: List[tuple] = []
        self.changed = threading.Condition()
        self.on: dict = {}

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name.startswith("_") or name in ("events", "changed", "on"):
            raise AttributeError(name)

        def record(driver: Any, *args: Any) -> None:
            with self.changed:
                self.events.append((name, *args))
                self.changed.notify_all()
            hook = self.on.get(name)
            if hook is not None:
                hook(driver, *args)

        return record

    def wait(self, what: str, pick: Callable[[tuple], Any], deadline: float = DEADLINE) -> Any:
        """The first recorded event ``pick`` accepts (events are kept)."""
        end = time.monotonic() + deadline
        with self.changed:
            while True:
                for event in self.events:
                    value = pick(event)
                    if value:
                        return value
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; events: {self.events!r}")
                self.changed.wait(left)

    def named(self, name: str) -> List[tuple]:
        with self.changed:
            return [e for e in self.events if e[0] == name]

    def clear(self) -> None:
        with self.changed:
            self.events.clear()


def command_task(
    task_id: str, offer: Any, command: str, cpus: float = 0.1, mem: float = 32.0
) -> dict:
    return {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": offer["agent_id"],
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
        ],
        "command": {"value": command, "shell": True},
    }
