"""The executor driver's callbacks and methods, with a Python executor run
by a real agent."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import meseta
from conftest import Recorder, command_task, get_json, wait_for

HERE = Path(__file__).resolve().parent


def records(path: Path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def executor_task(task_id: str, offer, executor_id: str, record: Path) -> dict:
    """A task run by ``recording_executor.py``, which writes to ``record``."""
    task = command_task(task_id, offer, "unused")
    del task["command"]
    task["executor"] = {
        "executor_id": {"value": executor_id},
        "command": {
            "value": f"{sys.executable} {HERE / 'recording_executor.py'}",
            "environment": {
                "variables": [
                    {"name": "RECORD_TO", "value": str(record)},
                    {"name": "PYTHONPATH", "value": os.pathsep.join(p for p in sys.path if p)},
                ]
            },
        },
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 64.0}},
        ],
    }
    return task


def test_executor_callbacks_and_methods(cluster, tmp_path):
    record = tmp_path / "executor.jsonl"
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(
        recorder, {"user": "", "name": "exec-test"}, cluster.master.address
    )
    driver.start()
    offer = recorder.wait("offers", lambda e: e[1] if e[0] == "resourceOffers" else None)[0]
    tasks = [executor_task(name, offer, "recorder", record) for name in ("one", "two")]
    driver.launchTasks(offer["id"], tasks)
    for name in ("one", "two"):
        recorder.wait(
            f"{name} running",
            lambda e, n=name: (
                e[0] == "statusUpdate"
                and e[1]["task_id"]["value"] == n
                and e[1]["state"] == "TASK_RUNNING"
            ),
        )

    driver.sendFrameworkMessage(
        {"value": "recorder"}, offer["agent_id"], meseta.encode_data(b"hello")
    )
    echoed = recorder.wait("the echo", lambda e: e[1:] if e[0] == "frameworkMessage" else None)
    assert echoed[0].value == "recorder" and meseta.decode_data(echoed[2]) == b"hello"

    driver.killTask({"value": "one"})
    recorder.wait(
        "one killed",
        lambda e: (
            e[0] == "statusUpdate"
            and e[1]["task_id"]["value"] == "one"
            and e[1]["state"] == "TASK_KILLED"
        ),
    )
    driver.stop()  # teardown: the executor is shut down
    driver.join()
    wait_for("the executor's shutdown", lambda: ["shutdown"] in records(record))
    names = [r[0] for r in records(record)]
    assert names[0] == "registered"
    assert records(record)[0][1:] == ["recorder", "exec-test", records(record)[0][3]]
    assert names.count("launchTask") == 2
    assert ["frameworkMessage", "hello"] in records(record)
    assert ["killTask", "one"] in records(record)


def test_a_python_executor_survives_an_agent_restart(cluster, tmp_path):
    record = tmp_path / "executor.jsonl"
    recorder = Recorder()
    info = {"user": "", "name": "checkpointed", "checkpoint": True, "failover_timeout": 3600.0}
    driver = meseta.MesosSchedulerDriver(recorder, info, cluster.master.address)
    driver.start()
    offer = recorder.wait("offers", lambda e: e[1] if e[0] == "resourceOffers" else None)[0]
    task = executor_task("durable", offer, "durable-recorder", record)
    driver.launchTasks(offer["id"], [task])
    recorder.wait(
        "running",
        lambda e: e[0] == "statusUpdate" and e[1]["state"] == "TASK_RUNNING",
    )
    index = next(
        i
        for i, agent in enumerate(cluster.agents)
        if get_json(agent.address, "/state")["id"] == offer["agent_id"]["value"]
    )
    cluster.restart_agent(index)
    wait_for(
        "the executor re-subscribes", lambda: any(r[0] == "reregistered" for r in records(record))
    )
    assert ["disconnected"] in records(record)
    # The task is still there, and still killable through the new agent.
    driver.killTask({"value": "durable"})
    recorder.wait(
        "killed",
        lambda e: (
            e[0] == "statusUpdate"
            and e[1]["task_id"]["value"] == "durable"
            and e[1]["state"] == "TASK_KILLED"
        ),
    )
    driver.stop()
    driver.join()


def test_a_task_group_reaches_the_python_executor(cluster, tmp_path):
    record = tmp_path / "executor.jsonl"
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(
        recorder, {"user": "", "name": "group-test"}, cluster.master.address
    )
    driver.start()
    offer = recorder.wait("offers", lambda e: e[1] if e[0] == "resourceOffers" else None)[0]
    tasks = [executor_task(name, offer, "grouped", record) for name in ("a", "b")]
    executor = {**tasks[0]["executor"], "type": "CUSTOM"}
    for task in tasks:
        del task["executor"]
    driver.acceptOffers(
        [offer["id"]],
        [
            {
                "type": "LAUNCH_GROUP",
                "launch_group": {"executor": executor, "task_group": {"tasks": tasks}},
            }
        ],
    )
    for name in ("a", "b"):
        recorder.wait(
            f"{name} running",
            lambda e, n=name: (
                e[0] == "statusUpdate"
                and e[1]["task_id"]["value"] == n
                and e[1]["state"] == "TASK_RUNNING"
            ),
        )
    assert ["launchTaskGroup", ["a", "b"]] in records(record)
    driver.stop()
    driver.join()


def test_an_executor_that_breaks_the_rules_gets_error_and_stops(cluster, tmp_path):
    record = tmp_path / "executor.jsonl"
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(
        recorder, {"user": "", "name": "rule-breaker"}, cluster.master.address
    )
    driver.start()
    offer = recorder.wait("offers", lambda e: e[1] if e[0] == "resourceOffers" else None)[0]
    driver.launchTasks(offer["id"], [executor_task("two", offer, "breaker", record)])
    recorder.wait(
        "running",
        lambda e: e[0] == "statusUpdate" and e[1]["state"] == "TASK_RUNNING",
    )
    # The executor then sends TASK_STAGING, which executors may not: its
    # driver aborts and reports why through error(), as Mesos's does.
    driver.sendFrameworkMessage(
        {"value": "breaker"}, offer["agent_id"], meseta.encode_data(b"misbehave")
    )
    wait_for(
        "the executor's error callback",
        lambda: any(r[0] == "error" and "TASK_STAGING" in r[1] for r in records(record)),
    )
    # Its process then ends, and so does the task.
    recorder.wait(
        "the task ends",
        lambda e: (
            e[0] == "statusUpdate"
            and e[1]["task_id"]["value"] == "two"
            and e[1]["state"] in ("TASK_FAILED", "TASK_LOST", "TASK_KILLED", "TASK_FINISHED")
        ),
    )
    driver.stop()
    driver.join()
