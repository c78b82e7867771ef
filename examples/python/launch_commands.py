#!/usr/bin/env python3
"""Launches N command tasks on a Mesos (or Meseta) cluster and waits for them.

    python examples/python/launch_commands.py --master 127.0.0.1:5050 --tasks 5

Exits 0 when every task finished, 1 otherwise. Works with pymesos too:
``--api pymesos`` runs the very same scheduler on pymesos's driver.
"""

import argparse
import importlib
import logging
import sys
import threading

TASK_CPUS = 0.1
TASK_MEM = 32.0
TERMINAL = {
    "TASK_FINISHED",
    "TASK_FAILED",
    "TASK_KILLED",
    "TASK_LOST",
    "TASK_ERROR",
    "TASK_DROPPED",
    "TASK_GONE",
    "TASK_GONE_BY_OPERATOR",
}


def scalar(offer, name):
    return sum(
        r["scalar"]["value"]
        for r in offer.get("resources", [])
        if r["name"] == name and "scalar" in r
    )


class CommandLogic:
    """Packs small command tasks into offers until N are launched (mixed
    into the chosen API's ``Scheduler`` base class, which supplies the
    callbacks this one leaves alone)."""

    def __init__(self, total, command):
        self.total = total
        self.command = command
        self.launched = 0
        self.outcomes = {}
        self.lock = threading.Lock()
        self.done = threading.Event()

    def registered(self, driver, framework_id, master_info):
        logging.info("registered as %s", framework_id["value"])

    def resourceOffers(self, driver, offers):
        for offer in offers:
            tasks = []
            cpus, mem = scalar(offer, "cpus"), scalar(offer, "mem")
            with self.lock:
                while self.launched < self.total and cpus >= TASK_CPUS and mem >= TASK_MEM:
                    task_id = f"task-{self.launched}"
                    self.launched += 1
                    cpus -= TASK_CPUS
                    mem -= TASK_MEM
                    tasks.append(
                        {
                            "name": task_id,
                            "task_id": {"value": task_id},
                            "agent_id": offer["agent_id"],
                            "resources": [
                                {"name": "cpus", "type": "SCALAR", "scalar": {"value": TASK_CPUS}},
                                {"name": "mem", "type": "SCALAR", "scalar": {"value": TASK_MEM}},
                            ],
                            "command": {"value": self.command.format(task=task_id), "shell": True},
                        }
                    )
            if tasks:
                driver.launchTasks(offer["id"], tasks)
            else:
                driver.declineOffer(offer["id"], {"refuse_seconds": 60.0})

    def statusUpdate(self, driver, status):
        state = status["state"]
        task_id = status["task_id"]["value"]
        logging.info("%s is %s", task_id, state)
        if state in TERMINAL:
            with self.lock:
                self.outcomes[task_id] = state
                if len(self.outcomes) == self.total:
                    self.done.set()

    def error(self, driver, message):
        logging.error("error from the master: %s", message)
        self.done.set()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--master", default="127.0.0.1:5050", help="HOST:PORT, zk://HOST:PORT/PATH or file:///path"
    )
    parser.add_argument("--tasks", type=int, default=5, help="how many tasks")
    parser.add_argument(
        "--command",
        default="echo hello from {task}",
        help="shell command of each task ({task} is its ID)",
    )
    parser.add_argument(
        "--api",
        choices=["meseta", "pymesos"],
        default="meseta",
        help="which Python driver runs the scheduler",
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before giving up")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    api = importlib.import_module(args.api)
    scheduler_class = type("CommandScheduler", (CommandLogic, api.Scheduler), {})
    scheduler = scheduler_class(args.tasks, args.command)
    framework = {"user": "", "name": "launch-commands (python)", "failover_timeout": 0.0}
    driver = api.MesosSchedulerDriver(scheduler, framework, args.master)
    driver.start()
    finished_in_time = scheduler.done.wait(args.timeout)
    driver.stop()
    driver.join()
    counts = {}
    for state in scheduler.outcomes.values():
        counts[state] = counts.get(state, 0) + 1
    print(" ".join(f"{state}={n}" for state, n in sorted(counts.items())) or "no tasks ended")
    ok = finished_in_time and counts.get("TASK_FINISHED", 0) == args.tasks
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
