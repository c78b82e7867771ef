"""Compatibility: a JVM framework built against the official
`org.apache.mesos:mesos` jar from Maven Central runs unchanged on Meseta,
with `MESOS_NATIVE_JAVA_LIBRARY` pointing at Meseta's `libmesos.so`."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
MESETA = TARGET / "debug" / "meseta"
LIBMESOS = TARGET / "debug" / "libmesos.so"
M2 = Path.home() / ".m2" / "repository"
MESOS_VERSION = os.environ.get("MESOS_JAR_VERSION", "1.11.0")
JARS = {
    f"org.apache.mesos:mesos:{MESOS_VERSION}": M2
    / f"org/apache/mesos/mesos/{MESOS_VERSION}/mesos-{MESOS_VERSION}.jar",
    "com.google.protobuf:protobuf-java:3.5.0": M2
    / "com/google/protobuf/protobuf-java/3.5.0/protobuf-java-3.5.0.jar",
}
EXAMPLE = ROOT / "examples" / "java" / "src" / "main" / "java"


def official_classpath():
    for tool in ("javac", "java", "mvn"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} is needed (Debian's openjdk-17-jdk-headless and maven); "
                "`make test` installs them"
            )
    for artifact, jar in JARS.items():
        if not jar.exists():
            subprocess.run(
                ["mvn", "-q", "dependency:get", f"-Dartifact={artifact}"], check=True, timeout=600
            )
        assert jar.exists(), f"{artifact} could not be fetched from Maven Central"
    return os.pathsep.join(str(jar) for jar in JARS.values())


@pytest.fixture
def java_cluster(tmp_path):
    """(master URL, run(main_class, *args)) with the examples compiled
    against the official jar and a `meseta local` cluster."""
    assert LIBMESOS.exists(), f"{LIBMESOS} is missing: run `make build`"
    classpath = official_classpath()
    classes = tmp_path / "classes"
    sources = [str(p) for p in EXAMPLE.rglob("*.java")]
    subprocess.run(
        ["javac", "-d", str(classes), "-cp", classpath, *sources], check=True, timeout=300
    )
    log = open(tmp_path / "local.log", "wb")
    cluster = subprocess.Popen(
        [
            str(MESETA),
            "local",
            "--port",
            "0",
            "--agents",
            "2",
            "--work-dir",
            str(tmp_path / "cluster"),
            "--resources",
            "cpus:2;mem:1024;disk:1024",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url_file = tmp_path / "cluster" / "master_url"
    end = time.monotonic() + 60
    while not (url_file.exists() and url_file.read_text().strip()):
        assert time.monotonic() < end, "the cluster did not start"
        time.sleep(0.05)
    env = {**os.environ, "MESOS_NATIVE_JAVA_LIBRARY": str(LIBMESOS)}

    def run(main_class, *args):
        return subprocess.run(
            ["java", "-cp", f"{classpath}{os.pathsep}{classes}", main_class, *args],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
        )

    try:
        yield url_file.read_text().strip(), run
    finally:
        cluster.terminate()
        cluster.wait(timeout=30)
        log.close()


def test_launch_commands_on_the_official_jar(java_cluster):
    master, run = java_cluster
    result = run("dev.meseta.examples.LaunchCommands", master, "6")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "TASK_FINISHED=6" in result.stdout
    assert result.stdout.startswith("registered ")


def test_a_java_executor_and_framework_messages_on_the_official_jar(java_cluster):
    master, run = java_cluster
    result = run("dev.meseta.examples.EchoFramework", master)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "echoes=3 final=TASK_FINISHED" in result.stdout
