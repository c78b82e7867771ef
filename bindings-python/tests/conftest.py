"""A real Meseta cluster for the binding's tests: one `meseta local --control`
process starts a master and agents on loopback ports picked at run time, each
with its own work dir and log, and kills or restarts single processes on
command (JSON lines on its stdout, one command a line on its stdin). Closing
its stdin stops the cluster, so a test process that dies takes its cluster
with it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
MESETA = Path(os.environ.get("MESETA_BINARY", TARGET / "debug" / "meseta"))
EXAMPLES = ROOT / "examples" / "python"
DEADLINE = 60.0
# Starting a cluster, or restarting a process, waits this long for `meseta
# local` to answer (its own waits give up before).
CONTROL_DEADLINE = 180.0

# Fast allocation, and a silent agent noticed within about a second.
MASTER_FLAGS = [
    "--allocation-interval",
    "100ms",
    "--agent-ping-timeout",
    "300ms",
    "--max-agent-ping-timeouts",
    "3",
]


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
    """A master or agent of the cluster, as `meseta local` last reported it."""

    def __init__(self, cluster: Cluster, event: Dict[str, Any]) -> None:
        self._cluster = cluster
        self.update(event)

    def update(self, event: Dict[str, Any]) -> None:
        self.name: str = event["name"]
        self.address: str = event["address"]
        self.pid: Optional[int] = event["pid"]
        self.work_dir = Path(event["work_dir"])
        self.log_path = Path(event["log"])

    def kill(self) -> None:
        """SIGKILL, as a crash would (an agent's tasks live on)."""
        self._cluster.command("kill", self.name)


class Cluster:
    """One master (fast allocation and agent health checks) and N agents."""

    def __init__(self, root: Path, agents: int, resources: str) -> None:
        assert MESETA.exists(), f"{MESETA} is missing: run `cargo build --bins` first"
        command = [
            str(MESETA),
            "local",
            "--control",
            "--agents",
            str(agents),
            "--port",
            "0",
            "--work-dir",
            str(root),
            "--resources",
            resources,
            *(f"--master-arg={flag}" for flag in MASTER_FLAGS),
        ]
        # Its stderr (what it says to people) goes where the test's goes.
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.processes: Dict[str, Process] = {}
        try:
            while True:
                event = self._next("the cluster to start")
                if event["event"] == "ready":
                    break
                if event["event"] == "process":
                    self.processes[event["name"]] = Process(self, event)
        except BaseException:
            self.stop()
            raise
        self.root = Path(event["root"])
        self.master = self.processes["master"]
        self.agents = [self.processes[f"agent-{i}"] for i in range(agents)]

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next(self, what: str) -> Dict[str, Any]:
        """The next event; fails on an error, EOF or silence."""
        try:
            line = self._lines.get(timeout=CONTROL_DEADLINE)
        except queue.Empty:
            raise AssertionError(f"meseta local said nothing for {what}") from None
        if line is None:
            raise AssertionError(f"meseta local exited waiting for {what}")
        event = json.loads(line)
        if event["event"] == "error":
            raise AssertionError(f"meseta local: {event['message']}")
        return event

    def command(self, verb: str, name: str) -> Process:
        """Sends ``verb name`` (kill, start, restart, ...) and returns the
        process as it is afterwards."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{verb} {name}\n")
        self._proc.stdin.flush()
        event = self._next(f"{verb} {name}")
        process = self.processes.get(event["name"])
        if process is None:  # `start agent-N` added one
            process = self.processes[event["name"]] = Process(self, event)
            self.agents.append(process)
        process.update(event)
        return process

    def wait_for_agents(self, count: int) -> None:
        wait_for(f"{count} active agents", lambda: self.metric("master/slaves_active") == count)

    def metric(self, key: str) -> Any:
        try:
            return get_json(self.master.address, "/metrics/snapshot").get(key)
        except OSError:
            return None

    def restart_master(self) -> None:
        """Kills the master (SIGKILL) and starts it again on the same port."""
        self.command("restart", "master")

    def restart_agent(self, index: int) -> None:
        """Kills agent ``index`` (SIGKILL) and starts it again on its work dir."""
        self.command("restart", f"agent-{index}")

    def stop(self) -> None:
        """Closes the cluster's stdin (it stops every process) and waits."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
        try:
            self._proc.wait(timeout=CONTROL_DEADLINE)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


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
