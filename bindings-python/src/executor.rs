//! `_meseta.ExecutorDriver`: the core's executor driver behind Python.
//! Its configuration comes from the `MESOS_*` environment the agent sets.

use meseta_core::executor::{Executor, ExecutorConfig};
use meseta_core::v1;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::convert::{self, code, json, json_bytes, json_string};

struct Forwarder {
    handler: Py<PyAny>,
}

type Driver = meseta_core::ExecutorDriver;

impl Executor for Forwarder {
    fn registered(
        &mut self,
        _: &Driver,
        executor_info: &v1::ExecutorInfo,
        framework_info: &v1::FrameworkInfo,
        agent_info: &v1::AgentInfo,
    ) {
        convert::dispatch(
            &self.handler,
            "registered",
            vec![json(executor_info), json(framework_info), json(agent_info)],
        );
    }

    fn reregistered(&mut self, _: &Driver, agent_info: &v1::AgentInfo) {
        convert::dispatch(&self.handler, "reregistered", vec![json(agent_info)]);
    }

    fn disconnected(&mut self, _: &Driver) {
        convert::dispatch(&self.handler, "disconnected", Vec::new());
    }

    fn launch_task(&mut self, _: &Driver, task: &v1::TaskInfo) {
        convert::dispatch(&self.handler, "launchTask", vec![json(task)]);
    }

    fn launch_task_group(&mut self, _: &Driver, task_group: &v1::TaskGroupInfo) {
        convert::dispatch(&self.handler, "launchTaskGroup", vec![json(task_group)]);
    }

    fn kill_task(&mut self, _: &Driver, task_id: &v1::TaskId) {
        convert::dispatch(&self.handler, "killTask", vec![json(task_id)]);
    }

    fn framework_message(&mut self, _: &Driver, data: &[u8]) {
        convert::dispatch(&self.handler, "frameworkMessage", vec![json_bytes(data)]);
    }

    fn shutdown(&mut self, _: &Driver) {
        convert::dispatch(&self.handler, "shutdown", Vec::new());
    }

    fn error(&mut self, _: &Driver, message: &str) {
        convert::dispatch(&self.handler, "error", vec![json_string(message)]);
    }
}

/// The native executor driver. Use `meseta.MesosExecutorDriver`.
#[pyclass(module = "meseta._meseta", frozen)]
pub struct ExecutorDriver {
    inner: Driver,
}

#[pymethods]
impl ExecutorDriver {
    /// Reads the agent's `MESOS_*` environment; fails outside an executor.
    #[new]
    fn new(handler: Py<PyAny>) -> PyResult<Self> {
        let config = ExecutorConfig::from_env().map_err(|error| {
            PyRuntimeError::new_err(format!(
                "not started by a Mesos agent (the MESOS_* environment is incomplete): {error}"
            ))
        })?;
        Ok(Self {
            inner: Driver::with_config(Forwarder { handler }, config),
        })
    }

    fn start(&self) -> i32 {
        code(self.inner.start())
    }

    fn stop(&self) -> i32 {
        code(self.inner.stop())
    }

    fn abort(&self) -> i32 {
        code(self.inner.abort())
    }

    /// Blocks until the driver stops; raises `KeyboardInterrupt` on Ctrl-C.
    fn join(&self, py: Python<'_>) -> PyResult<i32> {
        convert::join(py, |slice| self.inner.join_timeout(slice))
    }

    fn status(&self) -> i32 {
        code(self.inner.status())
    }

    fn send_status_update(&self, status: &str) -> PyResult<i32> {
        let status: v1::TaskStatus = convert::message("TaskStatus", status)?;
        Ok(code(self.inner.send_status_update(status)))
    }

    fn send_framework_message(&self, data: Vec<u8>) -> i32 {
        code(self.inner.send_framework_message(data))
    }
}
