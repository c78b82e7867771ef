#!/usr/bin/env python3
"""A scheduler and a Python executor exchanging framework messages.

    python examples/python/ping_pong/scheduler.py --master 127.0.0.1:5050 --rounds 3

The scheduler launches one task whose executor is ``executor.py`` (run by
the agent with this same Python interpreter), plays ``--rounds`` of ping and
pong with it through framework messages, then tells it to finish. Exits 0
when the task finished after every round.
"""

import argparse
import logging
import os
import sys
import threading

import meseta

HERE = os.path.dirname(os.path.abspath(__file__))


class PingPongScheduler(meseta.Scheduler):
    def __init__(self, rounds):
        self.rounds = rounds
        self.pongs = 0
        self.launched = False
        self.final_state = None
        self.done = threading.Event()

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer["id"], {"refuse_seconds": 60.0})
                continue
            self.launched = True
            python_path = os.pathsep.join(p for p in sys.path if p)
            executor = {
                "executor_id": {"value": "ping-pong"},
                "name": "ping-pong executor (python)",
                "command": {
                    "value": f"{sys.executable} {os.path.join(HERE, 'executor.py')}",
                    "shell": True,
                    "environment": {"variables": [{"name": "PYTHONPATH", "value": python_path}]},
                },
                "resources": [
                    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                    {"name": "mem", "type": "SCALAR", "scalar": {"value": 64.0}},
                ],
            }
            task = {
                "name": "ping-pong",
                "task_id": {"value": "ping-pong"},
                "agent_id": offer["agent_id"],
                "executor": executor,
                "resources": [
                    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                    {"name": "mem", "type": "SCALAR", "scalar": {"value": 32.0}},
                ],
            }
            driver.launchTasks(offer["id"], [task])

    def statusUpdate(self, driver, status):
        logging.info("task %s is %s", status["task_id"]["value"], status["state"])
        if status["state"] == "TASK_RUNNING":
            self.agent_id = status["agent_id"]
            self.executor_id = status.get("executor_id", {"value": "ping-pong"})
            self.send(driver, "ping 1")
        elif status["state"] != "TASK_STARTING":
            self.final_state = status["state"]
            self.done.set()

    def frameworkMessage(self, driver, executorId, agentId, data):
        text = meseta.decode_data(data).decode()
        logging.info("executor says %r", text)
        if text.startswith("pong "):
            self.pongs += 1
            if self.pongs < self.rounds:
                self.send(driver, f"ping {self.pongs + 1}")
            else:
                self.send(driver, "done")

    def send(self, driver, text):
        driver.sendFrameworkMessage(self.executor_id, self.agent_id, meseta.encode_data(text))

    def error(self, driver, message):
        logging.error("error: %s", message)
        self.done.set()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="127.0.0.1:5050")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(message)s")
    scheduler = PingPongScheduler(args.rounds)
    driver = meseta.MesosSchedulerDriver(
        scheduler, {"user": "", "name": "ping-pong (python)"}, args.master
    )
    driver.start()
    scheduler.done.wait(args.timeout)
    driver.stop()
    driver.join()
    print(f"pongs={scheduler.pongs} final={scheduler.final_state}")
    ok = scheduler.final_state == "TASK_FINISHED" and scheduler.pongs == args.rounds
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
