#!/usr/bin/env python3
"""An executor for the tests: writes every callback it gets, one JSON line
each, to $RECORD_TO; runs each task until it is killed; answers framework
messages by echoing them."""

import json
import os
import sys
import threading

import meseta

RECORD = os.environ["RECORD_TO"]


class RecordingExecutor(meseta.Executor):
    def __init__(self):
        self.done = threading.Event()

    def record(self, name, *args):
        with open(RECORD, "a") as out:
            out.write(json.dumps([name, *args]) + "\n")

    def registered(self, driver, executorInfo, frameworkInfo, agentInfo):
        self.record(
            "registered",
            executorInfo["executor_id"]["value"],
            frameworkInfo["name"],
            agentInfo["hostname"],
        )

    def reregistered(self, driver, agentInfo):
        self.record("reregistered", agentInfo["hostname"])

    def disconnected(self, driver):
        self.record("disconnected")

    def launchTask(self, driver, task):
        self.record("launchTask", task["task_id"]["value"])
        driver.sendStatusUpdate({"task_id": task["task_id"], "state": "TASK_RUNNING"})

    def launchTaskGroup(self, driver, taskGroup):
        self.record("launchTaskGroup", [t["task_id"]["value"] for t in taskGroup["tasks"]])
        for task in taskGroup["tasks"]:
            driver.sendStatusUpdate({"task_id": task["task_id"], "state": "TASK_RUNNING"})

    def killTask(self, driver, taskId):
        self.record("killTask", taskId["value"])
        driver.sendStatusUpdate({"task_id": taskId, "state": "TASK_KILLED"})

    def frameworkMessage(self, driver, data):
        text = meseta.decode_data(data).decode()
        self.record("frameworkMessage", text)
        if text == "misbehave":
            # The agent refuses this (executors may not send TASK_STAGING):
            # the driver reports it through error().
            driver.sendStatusUpdate({"task_id": {"value": "two"}, "state": "TASK_STAGING"})
            return
        driver.sendFrameworkMessage(data)

    def error(self, driver, message):
        self.record("error", message)
        self.done.set()

    def shutdown(self, driver):
        self.record("shutdown")
        self.done.set()


executor = RecordingExecutor()
driver = meseta.MesosExecutorDriver(executor, use_addict=True)
driver.start()
executor.done.wait()
driver.stop()
driver.join()
sys.exit(0)
