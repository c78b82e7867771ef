"""Reservations and persistent volumes through the Python driver: one
``acceptOffers`` reserves disk for the framework's role, makes a volume of
it and launches a task that writes there; the volume comes back in a later
offer with what the task wrote."""

from __future__ import annotations

import meseta
from conftest import Recorder, command_task, get_json, wait_for

ROLE = "ml"
PRINCIPAL = "py-principal"


def reserved_disk(mb: float, volume: bool = False) -> dict:
    resource = {
        "name": "disk",
        "type": "SCALAR",
        "scalar": {"value": mb},
        "reservations": [{"type": "DYNAMIC", "role": ROLE, "principal": PRINCIPAL}],
    }
    if volume:
        resource["disk"] = {
            "persistence": {"id": "py-volume", "principal": PRINCIPAL},
            "volume": {"container_path": "data", "mode": "RW"},
        }
    return resource


def with_volume(task: dict) -> dict:
    task["resources"].append(reserved_disk(64, volume=True))
    return task


TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"}


def ended(recorder: Recorder, task_id: str) -> dict:
    return recorder.wait(
        f"{task_id} to end",
        lambda e: (
            e[1]
            if e[0] == "statusUpdate"
            and e[1]["task_id"]["value"] == task_id
            and e[1]["state"] in TERMINAL
            else None
        ),
    )


def has_volume(offer: dict) -> bool:
    return any(
        r.get("disk", {}).get("persistence", {}).get("id") == "py-volume"
        for r in offer["resources"]
    )


def test_reserve_create_and_launch_in_one_accept(cluster):
    address = cluster.master.address
    recorder = Recorder()
    framework = {
        "user": "",
        "name": "py-volumes",
        "roles": [ROLE],
        "principal": PRINCIPAL,
        "capabilities": [{"type": "MULTI_ROLE"}, {"type": "RESERVATION_REFINEMENT"}],
    }
    driver = meseta.MesosSchedulerDriver(recorder, framework, address)
    driver.start()
    offer = recorder.wait("offers", lambda e: e[1][0] if e[0] == "resourceOffers" else None)
    operations = [
        {"type": "RESERVE", "reserve": {"resources": [reserved_disk(64)]}},
        {"type": "CREATE", "create": {"volumes": [reserved_disk(64, volume=True)]}},
        {
            "type": "LAUNCH",
            "launch": {
                "task_infos": [with_volume(command_task("writer", offer, "echo kept > data/file"))]
            },
        },
    ]
    assert driver.acceptOffers([offer["id"]], operations) == meseta.DRIVER_RUNNING
    finished = ended(recorder, "writer")
    assert finished["state"] == "TASK_FINISHED", finished

    def shown() -> float:
        agents = get_json(address, "/master/slaves")["slaves"]
        return sum(a["reserved_resources"].get(ROLE, {}).get("disk", 0) for a in agents)

    wait_for("the reservation in /master/slaves", lambda: shown() == 64)

    recorder.clear()
    offer = recorder.wait(
        "an offer with the volume",
        lambda e: (
            next((o for o in e[1] if has_volume(o)), None) if e[0] == "resourceOffers" else None
        ),
    )
    reader = with_volume(command_task("reader", offer, "grep -q kept data/file"))
    driver.launchTasks(offer["id"], [reader])
    read = ended(recorder, "reader")
    assert read["state"] == "TASK_FINISHED", read
    driver.stop()
    driver.join()
