"""Compatibility: a pymesos framework (PyPI) launches a Docker task with the
JSON `ContainerInfo` it builds itself, on an agent with the Docker
containerizer, against a private Docker engine this test starts (Debian's
`docker.io`; the image is made here from Debian's static busybox: nothing
is pulled from the internet).
"""

import json
import os
import shutil
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
DOCKER = "/usr/bin/docker"
IMAGE = "meseta-test/busybox:py"
DEADLINE = 90.0


def wait_for(what, predicate, deadline=DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {deadline}s waiting for {what}")


def unavailable():
    if os.geteuid() != 0:
        return "a Docker engine needs root"
    for path in ["/usr/sbin/dockerd", DOCKER, "/bin/busybox"]:
        if not Path(path).exists():
            return f"{path} is missing (apt-get install docker.io busybox-static)"
    return None


@pytest.fixture
def engine(tmp_path):
    """A private dockerd with the test image; yields its socket."""
    reason = unavailable()
    if reason:
        pytest.skip(f"SKIPPED (loudly): {reason}")
    base = Path(f"/tmp/meseta-pydocker-{os.getpid()}")
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    socket = base / "docker.sock"
    log = open(base / "dockerd.log", "wb")
    dockerd = subprocess.Popen(
        [
            "/usr/sbin/dockerd",
            "--host",
            f"unix://{socket}",
            "--data-root",
            str(base / "root"),
            "--exec-root",
            str(base / "exec"),
            "--pidfile",
            str(base / "docker.pid"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def docker(*args):
        return subprocess.run([DOCKER, "-H", f"unix://{socket}", *args], capture_output=True)

    try:
        wait_for("dockerd", lambda: docker("version").returncode == 0)
        rootfs = base / "rootfs"
        for sub in ["bin", "etc", "tmp", "proc", "sys", "dev"]:
            (rootfs / sub).mkdir(parents=True)
        shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
        applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True)
        for applet in applets.stdout.split():
            if applet != "busybox":
                (rootfs / "bin" / applet).symlink_to("busybox")
        tarball = base / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        imported = docker("import", "-c", "ENV PATH=/bin", str(tarball), IMAGE)
        assert imported.returncode == 0, imported.stderr
        yield socket
    finally:
        dockerd.terminate()
        try:
            dockerd.wait(timeout=30)
        except subprocess.TimeoutExpired:
            dockerd.kill()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def cluster(engine, tmp_path):
    """`meseta local --control` with one Docker-enabled agent; yields the
    master's address and the agent's."""
    proc = subprocess.Popen(
        [
            str(MESETA),
            "local",
            "--control",
            "--agents",
            "1",
            "--port",
            "0",
            "--work-dir",
            str(tmp_path / "cluster"),
            "--resources",
            "cpus:2;mem:1024;disk:1024",
            "--agent-arg=--containerizers",
            "--agent-arg=docker,mesos",
            "--agent-arg=--docker-socket",
            f"--agent-arg={engine}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=open(tmp_path / "local.log", "wb"),
        text=True,
    )
    try:
        agents = {}
        ready = None
        for line in proc.stdout:
            event = json.loads(line)
            if event["event"] == "process" and event["role"] == "agent":
                agents[event["name"]] = event["address"]
            if event["event"] == "ready":
                ready = event
                break
            assert event["event"] != "error", event
        assert ready, "meseta local ended before it was ready"
        yield ready["master"], agents["agent-0"]
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


class DockerTask(Scheduler):
    """Launches one Docker task on the first offer; records its updates."""

    def __init__(self):
        self.launched = False
        self.updates = []
        self.done = threading.Event()

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer.id)
                continue
            self.launched = True
            task = Dict()
            task.task_id.value = f"docker-{uuid.uuid4().hex[:8]}"
            task.agent_id.value = offer.agent_id.value
            task.name = "pymesos docker task"
            task.resources = [
                dict(name="cpus", type="SCALAR", scalar={"value": 0.1}),
                dict(name="mem", type="SCALAR", scalar={"value": 64}),
            ]
            task.command.shell = True
            # Debian's marker file is on the host, not in the busybox image.
            task.command.value = (
                "if [ -e /etc/debian_version ]; then echo on the host; "
                "else echo hello from the image; fi"
            )
            task.container.type = "DOCKER"
            task.container.docker.image = IMAGE
            task.container.docker.network = "HOST"
            driver.launchTasks(offer.id, [task])

    def statusUpdate(self, driver, update):
        self.updates.append(update)
        if update.state in (
            "TASK_FINISHED",
            "TASK_FAILED",
            "TASK_KILLED",
            "TASK_LOST",
            "TASK_ERROR",
        ):
            self.done.set()


def test_a_pymesos_docker_task_runs_in_the_image(cluster):
    master, agent = cluster
    framework = Dict()
    framework.user = "root"
    framework.name = "pymesos docker"
    scheduler = DockerTask()
    driver = MesosSchedulerDriver(scheduler, framework, master, use_addict=True)
    driver.start()
    try:
        assert scheduler.done.wait(DEADLINE), "no terminal update"
    finally:
        driver.stop()
        driver.join()
    states = [u.state for u in scheduler.updates]
    last = scheduler.updates[-1]
    assert last.state == "TASK_FINISHED", (states, last.get("message"))
    assert "TASK_RUNNING" in states
    with urllib.request.urlopen(f"http://{agent}/state") as response:
        state = json.load(response)
    directories = [
        executor["directory"]
        for framework in state["frameworks"] + state["completed_frameworks"]
        for executor in framework["executors"] + framework["completed_executors"]
    ]
    outputs = [Path(d, "stdout").read_text() for d in directories if Path(d, "stdout").exists()]
    assert any("hello from the image" in out for out in outputs), outputs
