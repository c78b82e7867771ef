#!/usr/bin/env python3
"""Run a Python function on the cluster and get its result back.

    from cluster_call import call
    print(call("127.0.0.1:5050", math.factorial, 20))

Each call is one task, run by ``runner.py`` as its executor with this same
interpreter; exceptions raised remotely are raised here. The function and
its arguments are pickled (functions by reference: their module must be
importable on the agents; this process's ``sys.path`` is passed along).

As a script it runs a small demo:

    python examples/python/remote/cluster_call.py --master 127.0.0.1:5050
"""

import argparse
import os
import pickle
import sys
import threading
import uuid

import meseta

HERE = os.path.dirname(os.path.abspath(__file__))


class RemoteError(Exception):
    """The remote call could not run (the task ended without a result)."""


class _OneCall(meseta.Scheduler):
    def __init__(self, payload, cpus, mem):
        self.payload = payload
        self.cpus = cpus
        self.mem = mem
        self.launched = False
        self.result = None
        self.done = threading.Event()

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched or not self._fits(offer):
                driver.declineOffer(offer["id"], {"refuse_seconds": 5.0})
                continue
            self.launched = True
            driver.launchTasks(offer["id"], [self._task(offer)])

    def _fits(self, offer):
        have = {r["name"]: r["scalar"]["value"] for r in offer["resources"] if "scalar" in r}
        return have.get("cpus", 0) >= self.cpus * 2 and have.get("mem", 0) >= self.mem + 32

    def _task(self, offer):
        def scalars(cpus, mem):
            return [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
            ]

        path = os.pathsep.join(p for p in sys.path if p)
        return {
            "name": "cluster-call",
            "task_id": {"value": f"call-{uuid.uuid4()}"},
            "agent_id": offer["agent_id"],
            "data": meseta.encode_data(self.payload),
            "resources": scalars(self.cpus, self.mem),
            "executor": {
                "executor_id": {"value": f"runner-{uuid.uuid4()}"},
                "command": {
                    "value": f"{sys.executable} {os.path.join(HERE, 'runner.py')}",
                    "environment": {"variables": [{"name": "PYTHONPATH", "value": path}]},
                },
                "resources": scalars(self.cpus, 32.0),
            },
        }

    def statusUpdate(self, driver, status):
        if status["state"] in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING"):
            return
        self.result = status
        self.done.set()


def call(master, function, *args, cpus=0.1, mem=64.0, timeout=300.0, **kwargs):
    """Runs ``function(*args, **kwargs)`` in a task and returns its result."""
    payload = pickle.dumps((function, args, kwargs))
    scheduler = _OneCall(payload, cpus, mem)
    framework = {"user": "", "name": f"cluster-call {getattr(function, '__name__', '?')}"}
    driver = meseta.MesosSchedulerDriver(scheduler, framework, master)
    driver.start()
    try:
        if not scheduler.done.wait(timeout):
            raise TimeoutError(f"no result within {timeout}s")
    finally:
        driver.stop()
        driver.join()
    status = scheduler.result
    if "data" not in status:
        raise RemoteError(f"the call ended {status['state']}: {status.get('message', '')}")
    kind, value = pickle.loads(meseta.decode_data(status["data"]))
    if kind == "error":
        raise value
    return value


def _demo(argv=None):
    import math

    parser = argparse.ArgumentParser(description="run a function on the cluster")
    parser.add_argument("--master", default="127.0.0.1:5050")
    args = parser.parse_args(argv)
    print("factorial(20) =", call(args.master, math.factorial, 20))
    try:
        call(args.master, math.sqrt, -1)
    except ValueError as exc:
        print("sqrt(-1) raised remotely:", exc)
    return 0


if __name__ == "__main__":
    sys.exit(_demo())
