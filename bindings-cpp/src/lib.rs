//! The Rust half of Meseta's C++ binding: `mesos::MesosSchedulerDriver`,
//! `mesos::MesosExecutorDriver` and `mesos::v1::scheduler::Mesos` (in
//! `src/cpp/`) forward every call here, and the client core's callbacks go
//! back through the C++ "sinks" declared in `include/meseta/bridge.hpp`.
//!
//! Messages cross the bridge as protobuf bytes. The C++ API uses the
//! unversioned (`mesos.*`, "v0") messages; they share field numbers and
//! types with the `mesos.v1` messages the core speaks, so the bytes decode
//! straight into the core's types, and the other way round. Statuses are
//! the `mesos::Status` codes. The v1 library's messages are the `mesos.v1`
//! ones themselves.
//!
//! Threads: C++ may call the drivers from any thread; the core invokes the
//! sinks on its callback thread, one at a time. The sinks catch every C++
//! exception, so none unwinds into Rust.

mod executor;
mod scheduler;
mod v1_scheduler;

use executor::{new_executor_driver, RustExecutorDriver};
use scheduler::{new_scheduler_driver, RustSchedulerDriver};
use v1_scheduler::{new_v1_mesos, RustV1Mesos};

#[cxx::bridge(namespace = "meseta::bridge")]
mod ffi {
    unsafe extern "C++" {
        include!("meseta/bridge.hpp");

        /// Delivers scheduler callbacks to a `mesos::Scheduler`.
        type SchedulerSink;
        fn registered(self: &SchedulerSink, framework_id: &[u8], master_info: &[u8]);
        fn reregistered(self: &SchedulerSink, master_info: &[u8]);
        fn disconnected(self: &SchedulerSink);
        fn resource_offers(self: &SchedulerSink, offers: &[&[u8]]);
        fn offer_rescinded(self: &SchedulerSink, offer_id: &[u8]);
        fn status_update(self: &SchedulerSink, status: &[u8]);
        fn framework_message(
            self: &SchedulerSink,
            executor_id: &[u8],
            agent_id: &[u8],
            data: &[u8],
        );
        fn slave_lost(self: &SchedulerSink, agent_id: &[u8]);
        fn executor_lost(self: &SchedulerSink, executor_id: &[u8], agent_id: &[u8], status: i32);
        fn error(self: &SchedulerSink, message: &str);

        /// Delivers executor callbacks to a `mesos::Executor`.
        type ExecutorSink;
        fn registered(
            self: &ExecutorSink,
            executor_info: &[u8],
            framework_info: &[u8],
            agent_info: &[u8],
        );
        fn reregistered(self: &ExecutorSink, agent_info: &[u8]);
        fn disconnected(self: &ExecutorSink);
        fn launch_task(self: &ExecutorSink, task: &[u8]);
        fn kill_task(self: &ExecutorSink, task_id: &[u8]);
        fn framework_message(self: &ExecutorSink, data: &[u8]);
        fn shutdown(self: &ExecutorSink);
        fn error(self: &ExecutorSink, message: &str);

        /// Delivers the v1 library's callbacks to a `mesos::v1::scheduler::Mesos`.
        type V1SchedulerSink;
        fn connected(self: &V1SchedulerSink);
        fn disconnected(self: &V1SchedulerSink);
        /// Serialized `mesos.v1.scheduler.Event`s, in order.
        fn received(self: &V1SchedulerSink, events: &[&[u8]]);
    }

    extern "Rust" {
        type RustSchedulerDriver;

        /// A driver for `sink`'s scheduler. `framework` and `credential`
        /// (empty: none) are serialized `mesos.FrameworkInfo`/`Credential`.
        fn new_scheduler_driver(
            sink: UniquePtr<SchedulerSink>,
            master: &str,
            framework: &[u8],
            suppressed_roles: &[String],
            implicit_acknowledgements: bool,
            credential: &[u8],
        ) -> Result<Box<RustSchedulerDriver>>;
        fn start(self: &RustSchedulerDriver) -> i32;
        fn stop(self: &RustSchedulerDriver, failover: bool) -> i32;
        fn abort(self: &RustSchedulerDriver) -> i32;
        fn join(self: &RustSchedulerDriver) -> i32;
        fn status(self: &RustSchedulerDriver) -> i32;
        /// For the C++ destructor: disconnects a running or aborted driver
        /// (as `stop(true)`), then waits until every queued callback was
        /// delivered and the callback thread ended.
        fn close(self: &RustSchedulerDriver);
        fn request_resources(self: &RustSchedulerDriver, requests: &[&[u8]]) -> Result<i32>;
        fn launch_tasks(
            self: &RustSchedulerDriver,
            offer_ids: &[&[u8]],
            tasks: &[&[u8]],
            filters: &[u8],
        ) -> Result<i32>;
        fn kill_task(self: &RustSchedulerDriver, task_id: &[u8]) -> Result<i32>;
        fn accept_offers(
            self: &RustSchedulerDriver,
            offer_ids: &[&[u8]],
            operations: &[&[u8]],
            filters: &[u8],
        ) -> Result<i32>;
        fn decline_offer(
            self: &RustSchedulerDriver,
            offer_id: &[u8],
            filters: &[u8],
        ) -> Result<i32>;
        /// Empty `roles`: every role of the framework.
        fn revive_offers(self: &RustSchedulerDriver, roles: &[String]) -> i32;
        fn suppress_offers(self: &RustSchedulerDriver, roles: &[String]) -> i32;
        fn acknowledge_status_update(self: &RustSchedulerDriver, status: &[u8]) -> Result<i32>;
        fn send_framework_message(
            self: &RustSchedulerDriver,
            executor_id: &[u8],
            agent_id: &[u8],
            data: &[u8],
        ) -> Result<i32>;
        fn reconcile_tasks(self: &RustSchedulerDriver, statuses: &[&[u8]]) -> Result<i32>;
        fn update_framework(
            self: &RustSchedulerDriver,
            framework: &[u8],
            suppressed_roles: &[String],
        ) -> Result<i32>;

        type RustExecutorDriver;

        /// A driver for `sink`'s executor, configured from the `MESOS_*`
        /// environment the agent sets (checked at `start`).
        fn new_executor_driver(sink: UniquePtr<ExecutorSink>) -> Box<RustExecutorDriver>;
        fn start(self: &RustExecutorDriver) -> i32;
        fn stop(self: &RustExecutorDriver) -> i32;
        fn abort(self: &RustExecutorDriver) -> i32;
        fn join(self: &RustExecutorDriver) -> i32;
        fn status(self: &RustExecutorDriver) -> i32;
        /// For the C++ destructor: stops the driver, then waits until every
        /// queued callback was delivered and the callback thread ended.
        fn close(self: &RustExecutorDriver);
        fn send_status_update(self: &RustExecutorDriver, status: &[u8]) -> Result<i32>;
        fn send_framework_message(self: &RustExecutorDriver, data: &[u8]) -> i32;

        type RustV1Mesos;

        /// The v1 scheduler library for `sink`, finding the master at
        /// `master`; `json` picks JSON over protobuf on the wire;
        /// `credential` (empty: none) is a serialized `mesos.v1.Credential`.
        fn new_v1_mesos(
            sink: UniquePtr<V1SchedulerSink>,
            master: &str,
            json: bool,
            credential: &[u8],
        ) -> Result<Box<RustV1Mesos>>;
        /// `call` is a serialized `mesos.v1.scheduler.Call`.
        fn send(self: &RustV1Mesos, call: &[u8]) -> Result<()>;
        fn reconnect(self: &RustV1Mesos);
        /// Closes the connection; no callback runs after this returns
        /// (unless called from a callback: that one finishes).
        fn close(self: &RustV1Mesos);
    }
}

// The sinks are called from the core's callback thread only, one call at
// a time, and hold nothing tied to the thread that made them.
unsafe impl Send for ffi::SchedulerSink {}
unsafe impl Send for ffi::ExecutorSink {}
unsafe impl Send for ffi::V1SchedulerSink {}

/// Decodes one message from the C++ side.
fn decode<M: prost::Message + Default>(bytes: &[u8], what: &str) -> Result<M, String> {
    M::decode(bytes).map_err(|error| format!("invalid {what}: {error}"))
}

/// Decodes each message of a list.
fn decode_all<M: prost::Message + Default>(items: &[&[u8]], what: &str) -> Result<Vec<M>, String> {
    items.iter().map(|bytes| decode(bytes, what)).collect()
}

/// An optional message: empty bytes mean "not given".
fn decode_optional<M: prost::Message + Default>(
    bytes: &[u8],
    what: &str,
) -> Result<Option<M>, String> {
    if bytes.is_empty() {
        Ok(None)
    } else {
        decode(bytes, what).map(Some)
    }
}

/// Core logs go to stderr, filtered by `MESETA_LOG` (default `warn`).
fn init_logging() {
    meseta_core::logging::init_stderr("MESETA_LOG");
}
