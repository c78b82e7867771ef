"""Inverse offers: a framework running a task on a machine scheduled for
maintenance gets ``inverseOffers``; its answer reaches the operator's
maintenance status, and ``inverseOfferRescinded`` follows when the schedule
is withdrawn."""

from __future__ import annotations

import json
import urllib.request

import meseta
from conftest import Recorder, command_task, get_json, wait_for


def post(address: str, path: str, body) -> None:
    request = urllib.request.Request(
        f"http://{address}{path}", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def statuses(address: str) -> list:
    status = get_json(address, "/maintenance/status")
    return [s["status"] for m in status.get("draining_machines", []) for s in m.get("statuses", [])]


def test_a_framework_answers_an_inverse_offer_for_its_agent(cluster):
    address = cluster.master.address
    recorder = Recorder()
    driver = meseta.MesosSchedulerDriver(recorder, {"user": "", "name": "py-inverse"}, address)
    driver.start()
    offers = recorder.wait("offers", lambda e: e[1] if e[0] == "resourceOffers" else None)
    offer = offers[0]
    driver.launchTasks(offer["id"], [command_task("steady", offer, "sleep 600")])
    recorder.wait(
        "the task running",
        lambda e: e[0] == "statusUpdate" and e[1]["state"] == "TASK_RUNNING",
    )

    window = {
        "machine_ids": [{"hostname": offer["hostname"]}],
        "unavailability": {"start": {"nanoseconds": 1_000_000_000}},
    }
    post(address, "/maintenance/schedule", {"windows": [window]})
    inverse = recorder.wait("inverse offers", lambda e: e[1] if e[0] == "inverseOffers" else None)
    assert inverse[0]["agent_id"] == offer["agent_id"]
    assert inverse[0]["unavailability"]["start"]["nanoseconds"] == 1_000_000_000
    wait_for("the unanswered inverse offer", lambda: statuses(address) == ["UNKNOWN"])

    assert driver.declineInverseOffer([inverse[0]["id"]]) == meseta.DRIVER_RUNNING
    wait_for("the framework's answer", lambda: statuses(address) == ["DECLINE"])

    # A new schedule asks again; withdrawing it rescinds the question.
    post(address, "/maintenance/schedule", {"windows": [window]})
    again = recorder.wait(
        "a new inverse offer",
        lambda e: e[1] if e[0] == "inverseOffers" and e[1][0]["id"] != inverse[0]["id"] else None,
    )
    post(address, "/maintenance/schedule", {"windows": []})
    rescinded = recorder.wait(
        "the rescinded inverse offer",
        lambda e: e[1] if e[0] == "inverseOfferRescinded" else None,
    )
    assert rescinded == again[0]["id"]
    driver.stop()
    driver.join()
