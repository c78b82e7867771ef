//! `mesos::MesosSchedulerDriver`'s Rust half: the core's [`SchedulerDriver`]
//! behind the bridge, and the [`Scheduler`] that forwards callbacks to the
//! C++ [`SchedulerSink`].

use cxx::UniquePtr;
use meseta_core::scheduler::{Scheduler, SchedulerConfig};
use meseta_core::{v1, SchedulerDriver, Status};
use prost::Message;

use crate::ffi::SchedulerSink;
use crate::{decode, decode_all, decode_optional};

/// The driver a `mesos::MesosSchedulerDriver` owns.
pub struct RustSchedulerDriver {
    driver: SchedulerDriver,
}

/// Forwards the core's callbacks to C++ as serialized messages.
struct CppScheduler(UniquePtr<SchedulerSink>);

impl CppScheduler {
    fn sink(&self) -> Option<&SchedulerSink> {
        self.0.as_ref()
    }
}

impl Scheduler for CppScheduler {
    fn registered(
        &mut self,
        _: &SchedulerDriver,
        framework_id: &v1::FrameworkId,
        master: &v1::MasterInfo,
    ) {
        if let Some(sink) = self.sink() {
            sink.registered(&framework_id.encode_to_vec(), &master.encode_to_vec());
        }
    }

    fn reregistered(&mut self, _: &SchedulerDriver, master: &v1::MasterInfo) {
        if let Some(sink) = self.sink() {
            sink.reregistered(&master.encode_to_vec());
        }
    }

    fn disconnected(&mut self, _: &SchedulerDriver) {
        if let Some(sink) = self.sink() {
            sink.disconnected();
        }
    }

    fn resource_offers(&mut self, _: &SchedulerDriver, offers: &[v1::Offer]) {
        if let Some(sink) = self.sink() {
            let encoded: Vec<Vec<u8>> = offers.iter().map(Message::encode_to_vec).collect();
            let views: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
            sink.resource_offers(&views);
        }
    }

    fn offer_rescinded(&mut self, _: &SchedulerDriver, offer_id: &v1::OfferId) {
        if let Some(sink) = self.sink() {
            sink.offer_rescinded(&offer_id.encode_to_vec());
        }
    }

    fn status_update(&mut self, _: &SchedulerDriver, status: &v1::TaskStatus) {
        if let Some(sink) = self.sink() {
            sink.status_update(&status.encode_to_vec());
        }
    }

    fn framework_message(
        &mut self,
        _: &SchedulerDriver,
        executor_id: &v1::ExecutorId,
        agent_id: &v1::AgentId,
        data: &[u8],
    ) {
        if let Some(sink) = self.sink() {
            sink.framework_message(
                &executor_id.encode_to_vec(),
                &agent_id.encode_to_vec(),
                data,
            );
        }
    }

    fn slave_lost(&mut self, _: &SchedulerDriver, agent_id: &v1::AgentId) {
        if let Some(sink) = self.sink() {
            sink.slave_lost(&agent_id.encode_to_vec());
        }
    }

    fn executor_lost(
        &mut self,
        _: &SchedulerDriver,
        executor_id: &v1::ExecutorId,
        agent_id: &v1::AgentId,
        status: i32,
    ) {
        if let Some(sink) = self.sink() {
            sink.executor_lost(
                &executor_id.encode_to_vec(),
                &agent_id.encode_to_vec(),
                status,
            );
        }
    }

    fn error(&mut self, _: &SchedulerDriver, message: &str) {
        if let Some(sink) = self.sink() {
            sink.error(message);
        }
    }
}

pub fn new_scheduler_driver(
    sink: UniquePtr<SchedulerSink>,
    master: &str,
    framework: &[u8],
    suppressed_roles: &[String],
    implicit_acknowledgements: bool,
    credential: &[u8],
) -> Result<Box<RustSchedulerDriver>, String> {
    crate::init_logging();
    if sink.is_null() {
        return Err("the scheduler sink is null".into());
    }
    let framework: v1::FrameworkInfo = decode(framework, "FrameworkInfo")?;
    let mut config = SchedulerConfig::new(master, framework);
    config.implicit_acknowledgements = implicit_acknowledgements;
    config.suppressed_roles = suppressed_roles.to_vec();
    if let Some(credential) = decode_optional::<v1::Credential>(credential, "Credential")? {
        config.credential = Some((credential.principal, credential.secret.unwrap_or_default()));
    }
    Ok(Box::new(RustSchedulerDriver {
        driver: SchedulerDriver::new(CppScheduler(sink), config),
    }))
}

fn code(status: Status) -> i32 {
    status.as_mesos_code()
}

impl RustSchedulerDriver {
    pub fn start(&self) -> i32 {
        code(self.driver.start())
    }

    pub fn stop(&self, failover: bool) -> i32 {
        code(self.driver.stop(failover))
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

    pub fn request_resources(&self, requests: &[&[u8]]) -> Result<i32, String> {
        let requests = decode_all(requests, "Request")?;
        Ok(code(self.driver.request_resources(requests)))
    }

    pub fn launch_tasks(
        &self,
        offer_ids: &[&[u8]],
        tasks: &[&[u8]],
        filters: &[u8],
    ) -> Result<i32, String> {
        let offer_ids: Vec<v1::OfferId> = decode_all(offer_ids, "OfferID")?;
        let tasks = decode_all(tasks, "TaskInfo")?;
        let filters = decode_optional(filters, "Filters")?;
        Ok(code(self.driver.launch_tasks(&offer_ids, tasks, filters)))
    }

    pub fn kill_task(&self, task_id: &[u8]) -> Result<i32, String> {
        let task_id = decode(task_id, "TaskID")?;
        Ok(code(self.driver.kill_task(&task_id)))
    }

    pub fn accept_offers(
        &self,
        offer_ids: &[&[u8]],
        operations: &[&[u8]],
        filters: &[u8],
    ) -> Result<i32, String> {
        let offer_ids: Vec<v1::OfferId> = decode_all(offer_ids, "OfferID")?;
        let operations = decode_all(operations, "Offer.Operation")?;
        let filters = decode_optional(filters, "Filters")?;
        Ok(code(
            self.driver.accept_offers(&offer_ids, operations, filters),
        ))
    }

    pub fn decline_offer(&self, offer_id: &[u8], filters: &[u8]) -> Result<i32, String> {
        let offer_id = decode(offer_id, "OfferID")?;
        let filters = decode_optional(filters, "Filters")?;
        Ok(code(self.driver.decline_offer(&offer_id, filters)))
    }

    pub fn revive_offers(&self, roles: &[String]) -> i32 {
        code(self.driver.revive_offers_for(roles.to_vec()))
    }

    pub fn suppress_offers(&self, roles: &[String]) -> i32 {
        code(self.driver.suppress_offers_for(roles.to_vec()))
    }

    pub fn acknowledge_status_update(&self, status: &[u8]) -> Result<i32, String> {
        let status = decode(status, "TaskStatus")?;
        Ok(code(self.driver.acknowledge_status_update(&status)))
    }

    pub fn send_framework_message(
        &self,
        executor_id: &[u8],
        agent_id: &[u8],
        data: &[u8],
    ) -> Result<i32, String> {
        let executor_id = decode(executor_id, "ExecutorID")?;
        let agent_id = decode(agent_id, "SlaveID")?;
        Ok(code(self.driver.send_framework_message(
            &executor_id,
            &agent_id,
            data.to_vec(),
        )))
    }

    pub fn reconcile_tasks(&self, statuses: &[&[u8]]) -> Result<i32, String> {
        let statuses: Vec<v1::TaskStatus> = decode_all(statuses, "TaskStatus")?;
        Ok(code(self.driver.reconcile_tasks(&statuses)))
    }

    pub fn update_framework(
        &self,
        framework: &[u8],
        suppressed_roles: &[String],
    ) -> Result<i32, String> {
        let framework = decode(framework, "FrameworkInfo")?;
        Ok(code(
            self.driver
                .update_framework(framework, suppressed_roles.to_vec()),
        ))
    }
}

impl RustSchedulerDriver {
    /// A driver destroyed while running (or aborted) disconnects as if the
    /// process had exited: `stop(failover = true)` keeps the framework
    /// registered for its failover timeout. Then every queued callback is
    /// delivered (the `error` of a fatal abort above all) before the C++
    /// scheduler goes away.
    pub fn close(&self) {
        if matches!(self.driver.status(), Status::Running | Status::Aborted) {
            self.driver.stop(true);
            self.driver.join();
        }
        self.driver.wait_for_callbacks();
    }
}

impl Drop for RustSchedulerDriver {
    fn drop(&mut self) {
        self.close();
    }
}
