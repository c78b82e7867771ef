//! `/quota` (and `/master/quota`): Mesos's REST-like face of role quotas.
//! `GET` answers the `QuotaStatus` (1.9+ `configs` with guarantees and
//! limits, and the older `infos`); `POST` with a `QuotaRequest` sets a
//! guarantee that is also the limit, as SET_QUOTA does (`400` with the
//! reason for a bad request or a role that has quota already, `409` when
//! the guarantees would exceed the cluster and `force` is not set);
//! `DELETE /quota/<role>` removes a role's quota (`400` if it has none).
//! Limits apart from guarantees are set with the operator API's
//! UPDATE_QUOTA. The leader answers; another master redirects there.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use meseta_proto::master::{call, Call};
use meseta_proto::quota::QuotaRequest;

use super::endpoints::proto_view;
use super::operator::performed;
use super::text_error;
use crate::handle::MasterHandle;

pub(super) async fn get(State(master): State<MasterHandle>) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/quota") {
        return answer;
    }
    proto_view(&master, |m| m.quota_status()).await
}

// SET_QUOTA and REMOVE_QUOTA are deprecated in Mesos, and are what this
// older endpoint performs.
#[allow(deprecated)]
pub(super) async fn post(State(master): State<MasterHandle>, body: Bytes) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/quota") {
        return answer;
    }
    let quota_request: QuotaRequest = match meseta_proto::json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return text_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "Failed to parse set quota request JSON ({e}); expected a QuotaRequest: \
                     {{\"role\": ..., \"guarantee\": [resources], \"force\": false}}"
                ),
            )
        }
    };
    let call = Call {
        r#type: Some(call::Type::SetQuota as i32),
        set_quota: Some(call::SetQuota { quota_request }),
        ..Default::default()
    };
    performed(&master, call).await
}

#[allow(deprecated)]
pub(super) async fn delete(
    State(master): State<MasterHandle>,
    Path(role): Path<String>,
) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/quota") {
        return answer;
    }
    let call = Call {
        r#type: Some(call::Type::RemoveQuota as i32),
        remove_quota: Some(call::RemoveQuota { role }),
        ..Default::default()
    };
    performed(&master, call).await
}
