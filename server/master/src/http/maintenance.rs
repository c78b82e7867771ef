//! Mesos's maintenance endpoints: `/maintenance/schedule` (`GET` the
//! schedule, `POST` a new one: UPDATE_MAINTENANCE_SCHEDULE),
//! `/maintenance/status` (`GET`: draining and down machines, with the
//! frameworks' answers to inverse offers), `/machine/down` and
//! `/machine/up` (`POST` a JSON list of machines: START_MAINTENANCE and
//! STOP_MAINTENANCE). Each also under `/master/`. `400` with the reason
//! and nothing changed for a bad body or a refused change. The leader
//! answers; another master redirects there.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use meseta_proto::maintenance::Schedule;
use meseta_proto::master::{call, Call};
use meseta_proto::v1;
use serde_json::Value;

use super::endpoints::proto_view;
use super::operator::performed;
use super::text_error;
use crate::handle::MasterHandle;

pub(super) async fn get_schedule(State(master): State<MasterHandle>) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/maintenance/schedule") {
        return answer;
    }
    proto_view(&master, |m| m.maintenance_schedule()).await
}

pub(super) async fn post_schedule(State(master): State<MasterHandle>, body: Bytes) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/maintenance/schedule") {
        return answer;
    }
    let schedule: Schedule = match meseta_proto::json::from_slice(&body) {
        Ok(schedule) => schedule,
        Err(e) => {
            return text_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "the body is not a maintenance schedule ({e}); expected {{\"windows\": [...]}}"
                ),
            )
        }
    };
    let call = Call {
        r#type: Some(call::Type::UpdateMaintenanceSchedule as i32),
        update_maintenance_schedule: Some(call::UpdateMaintenanceSchedule { schedule }),
        ..Default::default()
    };
    performed(&master, call).await
}

pub(super) async fn get_status(State(master): State<MasterHandle>) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/maintenance/status") {
        return answer;
    }
    proto_view(&master, |m| m.maintenance_status()).await
}

pub(super) async fn machine_down(State(master): State<MasterHandle>, body: Bytes) -> Response {
    machines(&master, "/machine/down", &body, |machines| Call {
        r#type: Some(call::Type::StartMaintenance as i32),
        start_maintenance: Some(call::StartMaintenance { machines }),
        ..Default::default()
    })
    .await
}

pub(super) async fn machine_up(State(master): State<MasterHandle>, body: Bytes) -> Response {
    machines(&master, "/machine/up", &body, |machines| Call {
        r#type: Some(call::Type::StopMaintenance as i32),
        stop_maintenance: Some(call::StopMaintenance { machines }),
        ..Default::default()
    })
    .await
}

/// `/machine/down` and `/machine/up`: the body's machines in the call
/// `make` builds.
async fn machines(
    master: &MasterHandle,
    path: &str,
    body: &[u8],
    make: impl FnOnce(Vec<v1::MachineId>) -> Call,
) -> Response {
    if let Some(answer) = super::unless_leading(master, path) {
        return answer;
    }
    match parse_machines(body) {
        Ok(machines) => performed(master, make(machines)).await,
        Err(reason) => text_error(StatusCode::BAD_REQUEST, reason),
    }
}

/// A JSON list of `{"hostname": ..., "ip": ...}`.
fn parse_machines(body: &[u8]) -> Result<Vec<v1::MachineId>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        format!("the body is not JSON ({e}); expected a list of {{\"hostname\", \"ip\"}}")
    })?;
    let list = value
        .as_array()
        .ok_or("expected a JSON list of {\"hostname\": ..., \"ip\": ...}")?;
    list.iter()
        .map(|entry| {
            meseta_proto::json::from_value::<v1::MachineId>(entry)
                .map_err(|e| format!("{entry} is not a machine: {e}"))
        })
        .collect()
}
