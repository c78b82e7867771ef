//! `mesos::MesosExecutorDriver`'s Rust half: the core's [`ExecutorDriver`]
//! behind the bridge, and the [`Executor`] that forwards callbacks to the
//! C++ [`ExecutorSink`].

use cxx::UniquePtr;
use meseta_core::executor::Executor;
use meseta_core::{v1, ExecutorDriver, Status};
use prost::Message;

use crate::decode;
use crate::ffi::ExecutorSink;

/// The driver a `mesos::MesosExecutorDriver` owns.
pub struct RustExecutorDriver {
    driver: ExecutorDriver,
}

/// Forwards the core's callbacks to C++ as serialized messages.
struct CppExecutor(UniquePtr<ExecutorSink>);

impl CppExecutor {
    fn sink(&self) -> Option<&ExecutorSink> {
        self.0.as_ref()
    }
}

impl Executor for CppExecutor {
    fn registered(
        &mut self,
        _: &ExecutorDriver,
        executor_info: &v1::ExecutorInfo,
        framework_info: &v1::FrameworkInfo,
        agent_info: &v1::AgentInfo,
    ) {
        if let Some(sink) = self.sink() {
            sink.registered(
                &executor_info.encode_to_vec(),
                &framework_info.encode_to_vec(),
                &agent_info.encode_to_vec(),
            );
        }
    }

    fn reregistered(&mut self, _: &ExecutorDriver, agent_info: &v1::AgentInfo) {
        if let Some(sink) = self.sink() {
            sink.reregistered(&agent_info.encode_to_vec());
        }
    }

    fn disconnected(&mut self, _: &ExecutorDriver) {
        if let Some(sink) = self.sink() {
            sink.disconnected();
        }
    }

    fn launch_task(&mut self, _: &ExecutorDriver, task: &v1::TaskInfo) {
        if let Some(sink) = self.sink() {
            sink.launch_task(&task.encode_to_vec());
        }
    }

    /// The C++ API has no task groups: each task of a group is launched on
    /// its own, in order.
    fn launch_task_group(&mut self, driver: &ExecutorDriver, task_group: &v1::TaskGroupInfo) {
        for task in &task_group.tasks {
            self.launch_task(driver, task);
        }
    }

    fn kill_task(&mut self, _: &ExecutorDriver, task_id: &v1::TaskId) {
        if let Some(sink) = self.sink() {
            sink.kill_task(&task_id.encode_to_vec());
        }
    }

    fn framework_message(&mut self, _: &ExecutorDriver, data: &[u8]) {
        if let Some(sink) = self.sink() {
            sink.framework_message(data);
        }
    }

    fn shutdown(&mut self, _: &ExecutorDriver) {
        if let Some(sink) = self.sink() {
            sink.shutdown();
        }
    }

    fn error(&mut self, _: &ExecutorDriver, message: &str) {
        if let Some(sink) = self.sink() {
            sink.error(message);
        }
    }
}

pub fn new_executor_driver(sink: UniquePtr<ExecutorSink>) -> Box<RustExecutorDriver> {
    crate::init_logging();
    Box::new(RustExecutorDriver {
        driver: ExecutorDriver::new_boxed(Box::new(CppExecutor(sink))),
    })
}

fn code(status: Status) -> i32 {
    status.as_mesos_code()
}

impl RustExecutorDriver {
    pub fn start(&self) -> i32 {
        code(self.driver.start())
    }

    pub fn stop(&self) -> i32 {
        code(self.driver.stop())
    }

    pub fn abort(&self) -> i32 {
        code(self.driver.abort())
    }

    pub fn join(&self) -> i32 {
        code(self.driver.join())
    }

    pub fn status(&self) -> i32 {
        code(self.driver.status())
    }

    pub fn send_status_update(&self, status: &[u8]) -> Result<i32, String> {
        let status = decode(status, "TaskStatus")?;
        Ok(code(self.driver.send_status_update(status)))
    }

    pub fn send_framework_message(&self, data: &[u8]) -> i32 {
        code(self.driver.send_framework_message(data.to_vec()))
    }
}

impl RustExecutorDriver {
    /// Stops a driver destroyed while running (or aborted), then delivers
    /// every queued callback (the `error` of a fatal abort above all) before
    /// the C++ executor goes away.
    pub fn close(&self) {
        if matches!(self.driver.status(), Status::Running | Status::Aborted) {
            self.driver.stop();
            self.driver.join();
        }
        self.driver.wait_for_callbacks();
    }
}

impl Drop for RustExecutorDriver {
    fn drop(&mut self) {
        self.close();
    }
}
