#!/usr/bin/env python3
"""The executor of ``cluster_call``: runs one pickled call per task.

The task's ``data`` holds ``pickle((function, args, kwargs))``; the result
(or the exception) goes back pickled in the ``data`` of the task's final
status update: TASK_FINISHED with ``("ok", value)``, TASK_FAILED with
``("error", exception)``. Functions are pickled by reference, so their
module must be importable here (the scheduler passes its ``sys.path``).
"""

import pickle
import sys
import threading
import traceback

import meseta


class CallRunner(meseta.Executor):
    def __init__(self):
        self.done = threading.Event()

    def launchTask(self, driver, task):
        threading.Thread(target=self.run, args=(driver, task), daemon=True).start()

    def run(self, driver, task):
        task_id = task["task_id"]
        driver.sendStatusUpdate({"task_id": task_id, "state": "TASK_RUNNING"})
        try:
            function, args, kwargs = pickle.loads(meseta.decode_data(task["data"]))
            outcome, state = ("ok", function(*args, **kwargs)), "TASK_FINISHED"
        except Exception as exc:  # noqa: BLE001 - the caller gets it back
            traceback.print_exc()
            outcome, state = ("error", exc), "TASK_FAILED"
        try:
            data = pickle.dumps(outcome)
        except Exception as exc:  # noqa: BLE001
            data, state = (
                pickle.dumps(("error", RuntimeError(f"unpicklable result: {exc}"))),
                "TASK_FAILED",
            )
        driver.sendStatusUpdate(
            {"task_id": task_id, "state": state, "data": meseta.encode_data(data)}
        )
        self.done.set()

    def killTask(self, driver, taskId):
        driver.sendStatusUpdate({"task_id": taskId, "state": "TASK_KILLED"})
        self.done.set()

    def shutdown(self, driver):
        self.done.set()


def main():
    runner = CallRunner()
    driver = meseta.MesosExecutorDriver(runner)
    driver.start()
    runner.done.wait()
    driver.stop()
    driver.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
