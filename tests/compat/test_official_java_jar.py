"""Compatibility: JVM frameworks built against the official
`org.apache.mesos:mesos` jars from Maven Central (1.11.0, and 1.4.3 as Spark
ships it) run unchanged on Meseta, with `MESOS_NATIVE_JAVA_LIBRARY` pointing
at Meseta's `libmesos.so`; and the same sources compile and run against our
own jar (`bindings-java`, library inside, no environment variable)."""

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
# Each official jar with the protobuf-java it was built against: the newest
# release, and the one Spark 3.5 ships.
JAR_SETS = {
    "1.11.0": ["org.apache.mesos:mesos:1.11.0", "com.google.protobuf:protobuf-java:3.5.0"],
    "1.4.3": ["org.apache.mesos:mesos:1.4.3", "com.google.protobuf:protobuf-java:3.3.0"],
    "meseta": ["com.google.protobuf:protobuf-java:3.21.12"],
}
# Our jar, as `make java-jar` (mvn package) leaves it.
MESETA_JAR = ROOT / "bindings-java" / "target" / "meseta-java-0.1.0.jar"


def jar_path(artifact):
    group, name, version = artifact.split(":")
    return M2 / group.replace(".", "/") / name / version / f"{name}-{version}.jar"


EXAMPLE = ROOT / "examples" / "java" / "src" / "main" / "java"


def official_classpath(mesos_version):
    for tool in ("javac", "java", "mvn"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"{tool} is needed (Debian's openjdk-17-jdk-headless and maven); "
                "`make test` installs them"
            )
    jars = []
    for artifact in JAR_SETS[mesos_version]:
        jar = jar_path(artifact)
        if not jar.exists():
            subprocess.run(
                ["mvn", "-q", "dependency:get", f"-Dartifact={artifact}"], check=True, timeout=600
            )
        assert jar.exists(), f"{artifact} could not be fetched from Maven Central"
        jars.append(str(jar))
    if mesos_version == "meseta":
        assert MESETA_JAR.exists(), f"{MESETA_JAR} is missing: run `make java-jar`"
        jars.append(str(MESETA_JAR))
    return os.pathsep.join(jars)


@pytest.fixture(params=sorted(JAR_SETS))
def java_cluster(request, tmp_path):
    """(master URL, run(main_class, *args)) with the examples compiled
    against the official jar and a `meseta local` cluster."""
    assert LIBMESOS.exists(), f"{LIBMESOS} is missing: run `make build`"
    classpath = official_classpath(request.param)
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
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MESOS_NATIVE_JAVA_LIBRARY", "MESOS_NATIVE_LIBRARY")
    }
    if request.param != "meseta":
        env["MESOS_NATIVE_JAVA_LIBRARY"] = str(LIBMESOS)

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


def test_launch_commands(java_cluster):
    master, run = java_cluster
    result = run("dev.meseta.examples.LaunchCommands", master, "6")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "TASK_FINISHED=6" in result.stdout
    assert result.stdout.startswith("registered ")


def test_a_java_executor_and_framework_messages(java_cluster):
    master, run = java_cluster
    result = run("dev.meseta.examples.EchoFramework", master)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "echoes=3 final=TASK_FINISHED" in result.stdout


def test_accept_offers_with_several_operations(java_cluster):
    master, run = java_cluster
    result = run("dev.meseta.examples.AcceptOperations", master, "2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Two agents, one acceptOffers call each: LAUNCH, LAUNCH_GROUP (two tasks), LAUNCH.
    assert "accept calls=2 tasks=8 TASK_FINISHED=8" in result.stdout
    assert "agent1-pod-sidecar TASK_FINISHED" in result.stdout
