//! `_meseta.SchedulerDriver`: the core's scheduler driver behind Python.

use meseta_core::scheduler::{Scheduler, SchedulerConfig};
use meseta_core::v1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::convert::{self, code, json, json_bytes, json_string};

/// Forwards every callback to the Python driver's `_dispatch`.
struct Forwarder {
    handler: Py<PyAny>,
}

type Driver = meseta_core::SchedulerDriver;

impl Scheduler for Forwarder {
    fn registered(&mut self, _: &Driver, framework_id: &v1::FrameworkId, master: &v1::MasterInfo) {
        convert::dispatch(
            &self.handler,
            "registered",
            vec![json(framework_id), json(master)],
        );
    }

    fn reregistered(&mut self, _: &Driver, master: &v1::MasterInfo) {
        convert::dispatch(&self.handler, "reregistered", vec![json(master)]);
    }

    fn disconnected(&mut self, _: &Driver) {
        convert::dispatch(&self.handler, "disconnected", Vec::new());
    }

    fn resource_offers(&mut self, _: &Driver, offers: &[v1::Offer]) {
        let offers: Vec<serde_json::Value> =
            offers.iter().map(meseta_proto::json::to_value).collect();
        let offers = serde_json::Value::Array(offers).to_string();
        convert::dispatch(&self.handler, "resourceOffers", vec![offers]);
    }

    fn offer_rescinded(&mut self, _: &Driver, offer_id: &v1::OfferId) {
        convert::dispatch(&self.handler, "offerRescinded", vec![json(offer_id)]);
    }

    fn inverse_offers(&mut self, _: &Driver, offers: &[v1::InverseOffer]) {
        let offers: Vec<serde_json::Value> =
            offers.iter().map(meseta_proto::json::to_value).collect();
        let offers = serde_json::Value::Array(offers).to_string();
        convert::dispatch(&self.handler, "inverseOffers", vec![offers]);
    }

    fn inverse_offer_rescinded(&mut self, _: &Driver, offer_id: &v1::OfferId) {
        convert::dispatch(&self.handler, "inverseOfferRescinded", vec![json(offer_id)]);
    }

    fn status_update(&mut self, _: &Driver, status: &v1::TaskStatus) {
        convert::dispatch(&self.handler, "statusUpdate", vec![json(status)]);
    }

    fn framework_message(
        &mut self,
        _: &Driver,
        executor_id: &v1::ExecutorId,
        agent_id: &v1::AgentId,
        data: &[u8],
    ) {
        convert::dispatch(
            &self.handler,
            "frameworkMessage",
            vec![json(executor_id), json(agent_id), json_bytes(data)],
        );
    }

    fn slave_lost(&mut self, _: &Driver, agent_id: &v1::AgentId) {
        convert::dispatch(&self.handler, "slaveLost", vec![json(agent_id)]);
    }

    fn executor_lost(
        &mut self,
        _: &Driver,
        executor_id: &v1::ExecutorId,
        agent_id: &v1::AgentId,
        status: i32,
    ) {
        convert::dispatch(
            &self.handler,
            "executorLost",
            vec![json(executor_id), json(agent_id), status.to_string()],
        );
    }

    fn error(&mut self, _: &Driver, message: &str) {
        convert::dispatch(&self.handler, "error", vec![json_string(message)]);
    }
}

/// The native scheduler driver. Use `meseta.MesosSchedulerDriver`, which
/// wraps it with Mesos's Python API.
#[pyclass(module = "meseta._meseta", frozen)]
pub struct SchedulerDriver {
    inner: Driver,
}

#[pymethods]
impl SchedulerDriver {
    /// `handler._dispatch(name, [json, ...])` receives every callback.
    #[new]
    #[pyo3(signature = (handler, framework, master, implicit_acknowledgements = true, principal = None, secret = None))]
    fn new(
        handler: Py<PyAny>,
        framework: &str,
        master: &str,
        implicit_acknowledgements: bool,
        principal: Option<String>,
        secret: Option<String>,
    ) -> PyResult<Self> {
        let framework: v1::FrameworkInfo = convert::message("FrameworkInfo", framework)?;
        meseta_core::detector::MasterSpec::parse(master).map_err(|error| {
            PyValueError::new_err(format!("invalid master address {master:?}: {error}"))
        })?;
        let mut config = SchedulerConfig::new(master, framework);
        config.implicit_acknowledgements = implicit_acknowledgements;
        config.credential = match (principal, secret) {
            (Some(principal), Some(secret)) => Some((principal, secret)),
            (None, None) => None,
            _ => {
                return Err(PyValueError::new_err(
                    "give both principal and secret, or neither",
                ))
            }
        };
        Ok(Self {
            inner: Driver::new(Forwarder { handler }, config),
        })
    }

    fn start(&self) -> i32 {
        code(self.inner.start())
    }

    fn stop(&self, failover: bool) -> i32 {
        code(self.inner.stop(failover))
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

    /// The framework ID as JSON, once subscribed.
    fn framework_id(&self) -> Option<String> {
        self.inner.framework_id().map(|id| json(&id))
    }

    #[pyo3(signature = (offer_ids, tasks, filters = None))]
    fn launch_tasks(&self, offer_ids: &str, tasks: &str, filters: Option<&str>) -> PyResult<i32> {
        let offer_ids: Vec<v1::OfferId> = convert::messages("offer IDs", offer_ids)?;
        let tasks: Vec<v1::TaskInfo> = convert::messages("TaskInfo", tasks)?;
        let filters = convert::optional("Filters", filters)?;
        Ok(code(self.inner.launch_tasks(&offer_ids, tasks, filters)))
    }

    #[pyo3(signature = (offer_ids, operations, filters = None))]
    fn accept_offers(
        &self,
        offer_ids: &str,
        operations: &str,
        filters: Option<&str>,
    ) -> PyResult<i32> {
        let offer_ids: Vec<v1::OfferId> = convert::messages("offer IDs", offer_ids)?;
        let operations: Vec<v1::offer::Operation> =
            convert::messages("Offer.Operation", operations)?;
        let filters = convert::optional("Filters", filters)?;
        Ok(code(
            self.inner.accept_offers(&offer_ids, operations, filters),
        ))
    }

    #[pyo3(signature = (offer_id, filters = None))]
    fn decline_offer(&self, offer_id: &str, filters: Option<&str>) -> PyResult<i32> {
        let offer_id: v1::OfferId = convert::message("offer ID", offer_id)?;
        let filters = convert::optional("Filters", filters)?;
        Ok(code(self.inner.decline_offer(&offer_id, filters)))
    }

    #[pyo3(signature = (offer_ids, accept, filters = None))]
    fn answer_inverse_offers(
        &self,
        offer_ids: &str,
        accept: bool,
        filters: Option<&str>,
    ) -> PyResult<i32> {
        let offer_ids: Vec<v1::OfferId> = convert::messages("inverse offer IDs", offer_ids)?;
        let filters = convert::optional("Filters", filters)?;
        Ok(code(if accept {
            self.inner.accept_inverse_offers(&offer_ids, filters)
        } else {
            self.inner.decline_inverse_offers(&offer_ids, filters)
        }))
    }

    #[pyo3(signature = (roles = Vec::new()))]
    fn revive_offers(&self, roles: Vec<String>) -> i32 {
        code(self.inner.revive_offers_for(roles))
    }

    #[pyo3(signature = (roles = Vec::new()))]
    fn suppress_offers(&self, roles: Vec<String>) -> i32 {
        code(self.inner.suppress_offers_for(roles))
    }

    fn kill_task(&self, task_id: &str) -> PyResult<i32> {
        let task_id: v1::TaskId = convert::message("task ID", task_id)?;
        Ok(code(self.inner.kill_task(&task_id)))
    }

    fn acknowledge_status_update(&self, status: &str) -> PyResult<i32> {
        let status: v1::TaskStatus = convert::message("TaskStatus", status)?;
        Ok(code(self.inner.acknowledge_status_update(&status)))
    }

    fn send_framework_message(
        &self,
        executor_id: &str,
        agent_id: &str,
        data: Vec<u8>,
    ) -> PyResult<i32> {
        let executor_id: v1::ExecutorId = convert::message("executor ID", executor_id)?;
        let agent_id: v1::AgentId = convert::message("agent ID", agent_id)?;
        Ok(code(self.inner.send_framework_message(
            &executor_id,
            &agent_id,
            data,
        )))
    }

    fn reconcile_tasks(&self, statuses: &str) -> PyResult<i32> {
        let statuses: Vec<v1::TaskStatus> = convert::messages("TaskStatus", statuses)?;
        Ok(code(self.inner.reconcile_tasks(&statuses)))
    }

    #[pyo3(signature = (framework, suppressed_roles = Vec::new()))]
    fn update_framework(&self, framework: &str, suppressed_roles: Vec<String>) -> PyResult<i32> {
        let framework: v1::FrameworkInfo = convert::message("FrameworkInfo", framework)?;
        Ok(code(
            self.inner.update_framework(framework, suppressed_roles),
        ))
    }

    fn request_resources(&self, requests: &str) -> PyResult<i32> {
        let requests: Vec<v1::Request> = convert::messages("Request", requests)?;
        Ok(code(self.inner.request_resources(requests)))
    }
}
