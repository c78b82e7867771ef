#!/usr/bin/env python3
"""The executor of the ping-pong example: the agent runs this script.

It answers every framework message ``ping N`` with ``pong N``, and ends its
task (TASK_FINISHED) when the scheduler says ``done``.
"""

import logging
import sys
import threading

import meseta


class PingPongExecutor(meseta.Executor):
    def __init__(self):
        self.task_id = None
        self.finished = threading.Event()

    def registered(self, driver, executorInfo, frameworkInfo, agentInfo):
        logging.info("executor registered on %s", agentInfo["hostname"])

    def launchTask(self, driver, task):
        self.task_id = task["task_id"]
        driver.sendStatusUpdate({"task_id": self.task_id, "state": "TASK_RUNNING"})

    def frameworkMessage(self, driver, data):
        text = meseta.decode_data(data).decode()
        if text.startswith("ping "):
            driver.sendFrameworkMessage(meseta.encode_data("pong " + text[5:]))
        elif text == "done" and self.task_id is not None:
            driver.sendStatusUpdate(
                {"task_id": self.task_id, "state": "TASK_FINISHED", "message": "played every round"}
            )
            self.finished.set()

    def killTask(self, driver, taskId):
        driver.sendStatusUpdate({"task_id": taskId, "state": "TASK_KILLED"})
        self.finished.set()

    def shutdown(self, driver):
        self.finished.set()


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s executor %(message)s")
    executor = PingPongExecutor()
    driver = meseta.MesosExecutorDriver(executor)
    driver.start()
    executor.finished.wait()
    # Give the agent the final update before leaving; the driver keeps
    # resending it until acknowledged, and stop() waits for the flush.
    driver.stop()
    driver.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
