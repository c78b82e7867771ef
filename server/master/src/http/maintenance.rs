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
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use meseta_proto::maintenance::Schedule;
use meseta_proto::master::{call, Call};
use meseta_proto::v1;
use serde_json::Value;

use super::operator::{change, refusal};
use super::text_error;
use crate::handle::MasterHandle;

fn json(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

pub(super) async fn get_schedule(State(master): State<MasterHandle>) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/maintenance/schedule") {
        return answer;
    }
    match master.inspect(|m| m.maintenance_schedule()).await {
        Some(schedule) => json(meseta_proto::json::to_vec(&schedule)),
        None => text_error(StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down"),
    }
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
    perform(&master, call).await
}

pub(super) async fn get_status(State(master): State<MasterHandle>) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/maintenance/status") {
        return answer;
    }
    match master.inspect(|m| m.maintenance_status()).await {
        Some(status) => json(meseta_proto::json::to_vec(&status)),
        None => text_error(StatusCode::SERVICE_UNAVAILABLE, "Master is shutting down"),
    }
}

pub(super) async fn machine_down(State(master): State<MasterHandle>, body: Bytes) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/machine/down") {
        return answer;
    }
    let machines = match parse_machines(&body) {
        Ok(machines) => machines,
        Err(reason) => return text_error(StatusCode::BAD_REQUEST, reason),
    };
    let call = Call {
        r#type: Some(call::Type::StartMaintenance as i32),
        start_maintenance: Some(call::StartMaintenance { machines }),
        ..Default::default()
    };
    perform(&master, call).await
}

pub(super) async fn machine_up(State(master): State<MasterHandle>, body: Bytes) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/machine/up") {
        return answer;
    }
    let machines = match parse_machines(&body) {
        Ok(machines) => machines,
        Err(reason) => return text_error(StatusCode::BAD_REQUEST, reason),
    };
    let call = Call {
        r#type: Some(call::Type::StopMaintenance as i32),
        stop_maintenance: Some(call::StopMaintenance { machines }),
        ..Default::default()
    };
    perform(&master, call).await
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

async fn perform(master: &MasterHandle, call: Call) -> Response {
    match change(master, call).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(refused) => refusal(refused),
    }
}
