"""Fixtures of the web UI tests: real clusters started through `meseta local
--control` (JSON lines out, one command a line in; closing its stdin stops
it), headless Chromium driven by Selenium, and small helpers to ask the
master what it thinks, so that the tests compare the page with the master.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
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
SCREENSHOTS = TARGET / "webui-screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
DEADLINE = 60.0
CONTROL_DEADLINE = 180.0
MASTER_FLAGS = ["--allocation-interval", "100ms"]


def wait_for(what: str, predicate: Callable[[], Any], deadline: float = DEADLINE) -> Any:
    """Polls ``predicate`` until it returns something true, or fails."""
    end = time.monotonic() + deadline
    last_error = None
    while time.monotonic() < end:
        try:
            value = predicate()
        except Exception as error:  # a page mid-render, a master mid-failover
            last_error = error
            value = None
        if value:
            return value
        time.sleep(0.05)
    suffix = f" (last error: {last_error!r})" if last_error else ""
    raise AssertionError(f"timed out after {deadline}s waiting for {what}{suffix}")


def operator_call(address: str, call: Dict[str, Any], timeout: float = 5) -> Any:
    """A call to the operator API of the master at ``address`` (JSON)."""
    request = urllib.request.Request(
        f"http://{address}/api/v1",
        data=json.dumps(call).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
    return json.loads(body) if body else None


class Process:
    def __init__(self, event: Dict[str, Any]) -> None:
        self.update(event)

    def update(self, event: Dict[str, Any]) -> None:
        self.name: str = event["name"]
        self.role: str = event["role"]
        self.address: str = event["address"]
        self.pid: Optional[int] = event["pid"]
        self.work_dir = Path(event["work_dir"])


class Cluster:
    """`meseta local --control`: masters and agents on loopback."""

    def __init__(self, root: Path, agents: int, masters: int = 1, extra: List[str] = ()) -> None:
        assert MESETA.exists(), f"{MESETA} is missing: run `cargo build --bins` first"
        command = [
            str(MESETA),
            "local",
            "--control",
            "--masters",
            str(masters),
            "--agents",
            str(agents),
            "--port",
            "0",
            "--work-dir",
            str(root),
            "--resources",
            "cpus:2;mem:1024;disk:1024",
            *(f"--master-arg={flag}" for flag in [*MASTER_FLAGS, *extra]),
        ]
        self._proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.processes: Dict[str, Process] = {}
        self.background: List[subprocess.Popen] = []
        try:
            while True:
                event = self._next("the cluster to start")
                if event["event"] == "ready":
                    break
                if event["event"] == "process":
                    self.processes[event["name"]] = Process(event)
        except BaseException:
            self.stop()
            raise
        self.root = Path(event["root"])
        self.leader: str = event["leader"]
        self.master_url: str = event["master"]
        self.masters = [p for p in self.processes.values() if p.role == "master"]
        self.agents = [p for p in self.processes.values() if p.role == "agent"]

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next(self, what: str) -> Dict[str, Any]:
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
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{verb} {name}\n")
        self._proc.stdin.flush()
        event = self._next(f"{verb} {name}")
        process = self.processes[event["name"]]
        process.update(event)
        return process

    def call(self, call: Dict[str, Any]) -> Any:
        """An operator call to whichever master leads now."""
        last = None
        for master in [self.leader] + [m.address for m in self.masters]:
            try:
                return operator_call(master, call)
            except OSError as error:
                last = error
        raise AssertionError(f"no master answered {call['type']}: {last}")

    def execute(self, name: str, command: str, log: Path) -> subprocess.Popen:
        """`meseta execute` in the background: a framework running one task."""
        out = open(log, "wb")
        proc = subprocess.Popen(
            [
                str(MESETA),
                "execute",
                "--master",
                self.leader,
                "--name",
                name,
                "--command",
                command,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        self.background.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.background:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
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


def new_browser(width: int = 1400, height: int = 1000):
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed; `make test` installs it"
    )
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail(
            f"{CHROMIUM} and {CHROMEDRIVER} are needed (Debian's chromium and"
            " chromium-driver; `make test` installs them)"
        )
    options = Options()
    options.binary_location = CHROMIUM
    for arg in [
        "--no-sandbox",
        "--headless=new",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS


@pytest.fixture
def browser():
    driver = new_browser()
    try:
        yield driver
    finally:
        # What the page logged (errors included) helps when a test fails.
        for entry in driver.get_log("browser"):
            print("browser:", entry.get("level"), entry.get("message"))
        driver.quit()


@pytest.fixture
def cluster(tmp_path: Path):
    cluster = Cluster(tmp_path / "cluster", agents=2)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def ha_cluster(tmp_path: Path):
    cluster = Cluster(
        tmp_path / "cluster", agents=2, masters=3, extra=["--zk-session-timeout", "3secs"]
    )
    try:
        yield cluster
    finally:
        cluster.stop()
