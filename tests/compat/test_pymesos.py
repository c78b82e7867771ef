"""Compatibility: a framework written with pymesos (PyPI; Mesos's JSON v1
scheduler API) runs unchanged against a `meseta local` cluster.

pymesos is a client this project did not write: it builds its own JSON
calls, reads the RecordIO event stream, and acknowledges updates itself.
"""

import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

pymesos = pytest.importorskip("pymesos", reason="pymesos is not installed; `make test` installs it")
from addict import Dict  # noqa: E402
from pymesos import MesosSchedulerDriver, Scheduler  # noqa: E402

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


def start_local(tmp_path, *flags):
    """Starts `meseta local` and returns (process, log, the URL frameworks use)."""
    assert MESETA.exists(), f"{MESETA} is missing: run `cargo build --bins` first"
    log = open(tmp_path / "local.log", "wb")
    proc = subprocess.Popen(
        [
            str(MESETA),
            "local",
            "--port",
            "0",
            "--work-dir",
            str(tmp_path / "cluster"),
            "--resources",
            "cpus:2;mem:1024;disk:1024",
            *flags,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url_file = tmp_path / "cluster" / "master_url"
    url = wait_for(
        "the cluster to be ready", lambda: url_file.exists() and url_file.read_text().strip()
    )
    return proc, log, url


def stop_local(proc, log):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def cluster(tmp_path):
    proc, log, url = start_local(tmp_path, "--agents", "2")
    try:
        yield url
    finally:
        stop_local(proc, log)


@pytest.fixture
def ha_cluster(tmp_path):
    proc, log, url = start_local(tmp_path, "--agents", "1", "--masters", "2")
    try:
        yield url, tmp_path / "cluster"
    finally:
        stop_local(proc, log)


def shell_task(task_id, agent_id, command):
    """A task of 0.1 cpus and 32 MB that runs `command` in a shell."""
    task = Dict()
    task.task_id.value = task_id
    task.agent_id.value = agent_id
    task.name = task_id
    task.command.value = command
    task.resources = [
        dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
        dict(name="mem", type="SCALAR", scalar={"value": 32}),
    ]
    return task


class Launcher(Scheduler):
    """Launches `count` shell tasks and records every status update."""

    def __init__(self, count):
        self.to_launch = count
        self.launched = 0
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
                tasks.append(
                    shell_task(
                        f"py-{uuid.uuid4().hex[:8]}",
                        offer.agent_id.value,
                        "echo hello from pymesos; test -d $MESOS_SANDBOX",
                    )
                )
                cpus -= 0.1
                self.to_launch -= 1
                self.launched += 1
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


def elected_master_pid(root):
    """The PID of the master that currently leads, from the masters' metrics."""
    for name in ("master", "master-1"):
        address = (root / name / "address").read_text().strip()
        try:
            with urllib.request.urlopen(
                f"http://{address}/metrics/snapshot", timeout=5
            ) as response:
                metrics = json.load(response)
        except OSError:
            continue
        if metrics.get("master/elected") == 1.0:
            return int((root / name / "pid").read_text().strip())
    return None


def test_pymesos_finds_the_leader_in_zookeeper_and_follows_a_failover(ha_cluster):
    pytest.importorskip("kazoo", reason="pymesos needs kazoo for zk://; `make test` installs it")
    url, root = ha_cluster
    assert url.startswith("zk://"), url
    scheduler = Launcher(count=2)
    framework = Dict(user="root", name="pymesos-ha", hostname="localhost", failover_timeout=3600)
    driver = MesosSchedulerDriver(scheduler, framework, url, use_addict=True)
    driver.start()

    def finished(n):
        def check():
            with scheduler.lock:
                return sum(1 for s in scheduler.states.values() if s[-1] == "TASK_FINISHED") >= n

        return check

    try:
        wait_for("two tasks finished through the first leader", finished(2))
        pid = wait_for("an elected master", lambda: elected_master_pid(root))
        os.kill(pid, signal.SIGKILL)
        with scheduler.lock:
            scheduler.to_launch += 2
        wait_for(
            "the other master to lead",
            lambda: elected_master_pid(root) not in (None, pid),
            deadline=90,
        )
        driver.reviveOffers()
        wait_for("two more tasks finished through the new leader", finished(4), deadline=90)
        assert scheduler.framework_id, "registered() was called"
    finally:
        driver.stop()
        driver.join()


class Maintained(Scheduler):
    """Runs one long task, then accepts the inverse offer for its agent."""

    def __init__(self):
        self.agent = None
        self.hostname = None
        self.running = threading.Event()
        self.inverse = []

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.agent is None:
                self.agent, self.hostname = offer.agent_id.value, offer.hostname
                driver.launchTasks(
                    offer.id, [shell_task("steady", offer.agent_id.value, "sleep 600")]
                )
            else:
                driver.declineOffer(offer.id)

    def statusUpdate(self, driver, update):
        if update.state == "TASK_RUNNING":
            self.running.set()

    def inverseOffers(self, driver, offers):
        self.inverse.extend(offers)
        driver.acceptInverseOffers([o.id for o in offers])


def test_pymesos_framework_accepts_an_inverse_offer_for_maintenance(cluster):
    scheduler = Maintained()
    framework = Dict(user="root", name="pymesos-maintenance", hostname="localhost")
    driver = MesosSchedulerDriver(scheduler, framework, cluster, use_addict=True)
    driver.start()
    base = cluster if cluster.startswith("http") else f"http://{cluster}"
    try:
        wait_for("the task running", scheduler.running.is_set)
        schedule = {
            "windows": [
                {
                    "machine_ids": [{"hostname": scheduler.hostname}],
                    "unavailability": {"start": {"nanoseconds": 1_000_000_000}},
                }
            ]
        }
        request = urllib.request.Request(
            f"{base}/maintenance/schedule", data=json.dumps(schedule).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

        def accepted():
            with urllib.request.urlopen(f"{base}/maintenance/status", timeout=5) as response:
                status = json.load(response)
            answers = [
                s["status"]
                for m in status.get("draining_machines", [])
                for s in m.get("statuses", [])
            ]
            return answers == ["ACCEPT"]

        wait_for("pymesos's acceptance in the maintenance status", accepted)
        assert scheduler.inverse[0].agent_id.value == scheduler.agent
    finally:
        driver.stop()
        driver.join()
