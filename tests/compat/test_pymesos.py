"""Compatibility: a framework written with pymesos (PyPI; Mesos's JSON v1
scheduler API) runs unchanged against a `meseta local` cluster.

pymesos is a client this project did not write: it builds its own JSON
calls, reads the RecordIO event stream, and acknowledges updates itself.
"""

import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

pymesos = pytest.importorskip("pymesos", reason="pymesos is not installed; `make test` installs it")
from pymesos import MesosSchedulerDriver, Scheduler  # noqa: E402
from addict import Dict  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
MESETA = TARGET / "debug" / "meseta"
DEADLINE = 60.0


def wait_for(what, predicate, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {deadline}s waiting for {what}")


@pytest.fixture
def cluster(tmp_path):
    assert MESETA.exists(), f"{MESETA} is missing: run `cargo build --bins` first"
    log = open(tmp_path / "local.log", "wb")
    proc = subprocess.Popen(
        [str(MESETA), "local", "--agents", "2", "--port", "0", "--work-dir", str(tmp_path / "cluster"),
         "--resources", "cpus:2;mem:1024;disk:1024"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    address_file = tmp_path / "cluster" / "master" / "address"
    try:
        address = wait_for("the master's address",
                           lambda: address_file.exists() and address_file.read_text().strip())
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class Launcher(Scheduler):
    """Launches `count` shell tasks and records every status update."""

    def __init__(self, count):
        self.to_launch = count
        self.states = {}
        self.lock = threading.Lock()
        self.framework_id = None

    def registered(self, driver, framework_id, master_info):
        self.framework_id = framework_id

    def resourceOffers(self, driver, offers):
        for offer in offers:
            cpus = sum(r.scalar.value for r in offer.resources if r.name == "cpus")
            tasks = []
            while self.to_launch > 0 and cpus >= 0.1:
                task = Dict()
                task.task_id.value = f"py-{uuid.uuid4().hex[:8]}"
                task.agent_id.value = offer.agent_id.value
                task.name = "pymesos task"
                task.command.value = "echo hello from pymesos; test -d $MESOS_SANDBOX"
                task.resources = [
                    dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                    dict(name="mem", type="SCALAR", scalar={"value": 32}),
                ]
                tasks.append(task)
                cpus -= 0.1
                self.to_launch -= 1
            if tasks:
                driver.launchTasks(offer.id, tasks)
            else:
                driver.declineOffer(offer.id)

    def statusUpdate(self, driver, update):
        with self.lock:
            self.states.setdefault(update.task_id.value, []).append(update.state)


def test_pymesos_framework_runs_tasks_to_finished(cluster):
    scheduler = Launcher(count=5)
    framework = Dict(user="root", name="pymesos-compat", hostname="localhost")
    driver = MesosSchedulerDriver(scheduler, framework, cluster, use_addict=True)
    driver.start()
    try:
        def finished():
            with scheduler.lock:
                done = [t for t, s in scheduler.states.items() if s[-1] == "TASK_FINISHED"]
                return len(done) == 5
        wait_for("five TASK_FINISHED updates", finished)
        assert scheduler.framework_id, "registered() was called with the framework ID"
        with scheduler.lock:
            for task_id, states in scheduler.states.items():
                assert "TASK_RUNNING" in states, (task_id, states)
                assert states[-1] == "TASK_FINISHED", (task_id, states)
    finally:
        driver.stop()
        driver.join()
