//! `/weights` (and `/master/weights`): Mesos's REST-like face of role
//! weights. `GET` lists the weights set as `[{"role": …, "weight": …}]`;
//! `PUT` with such a list sets them, exactly as the operator API's
//! UPDATE_WEIGHTS does (`200` once persisted, `400` with the reason and
//! nothing changed when any entry is wrong). The leader answers; another
//! master redirects there.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use meseta_proto::master::{call, Call};
use meseta_proto::v1;
use serde_json::{json, Value};

use super::endpoints::view;
use super::operator::performed;
use super::text_error;
use crate::handle::MasterHandle;

pub(super) async fn get(State(master): State<MasterHandle>) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/weights") {
        return answer;
    }
    view(&master, |m| {
        m.weights()
            .iter()
            .map(|(role, weight)| json!({"role": role, "weight": weight}))
            .collect()
    })
    .await
}

pub(super) async fn put(State(master): State<MasterHandle>, body: Bytes) -> Response {
    if let Some(answer) = super::unless_leading(&master, "/weights") {
        return answer;
    }
    let weight_infos = match parse(&body) {
        Ok(infos) => infos,
        Err(reason) => return text_error(StatusCode::BAD_REQUEST, reason),
    };
    let call = Call {
        r#type: Some(call::Type::UpdateWeights as i32),
        update_weights: Some(call::UpdateWeights { weight_infos }),
        ..Default::default()
    };
    performed(&master, call).await
}

/// The body's list of weights; the state machine checks the roles and
/// values, this only the shape.
fn parse(body: &[u8]) -> Result<Vec<v1::WeightInfo>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        format!("the body is not JSON ({e}); expected a list of {{\"role\", \"weight\"}}")
    })?;
    let entries = value
        .as_array()
        .ok_or("expected a JSON list of {\"role\": ..., \"weight\": ...}")?;
    entries
        .iter()
        .map(|entry| {
            let role = entry
                .get("role")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{entry} has no string 'role'"))?;
            let weight = entry
                .get("weight")
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("{entry} has no number 'weight'"))?;
            Ok(v1::WeightInfo {
                role: Some(role.to_string()),
                weight,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_body_must_be_a_list_of_roles_and_weights() {
        let infos =
            parse(br#"[{"role":"a","weight":2},{"role":"b","weight":0.5}]"#).expect("a valid body");
        assert_eq!(infos.len(), 2);
        assert_eq!(infos[0].role.as_deref(), Some("a"));
        assert_eq!(infos[1].weight, 0.5);
        for (body, complaint) in [
            (&b"nope"[..], "not JSON"),
            (br#"{"role":"a","weight":2}"#, "JSON list"),
            (br#"[{"weight":2}]"#, "no string 'role'"),
            (br#"[{"role":"a","weight":"2"}]"#, "no number 'weight'"),
        ] {
            let error = parse(body).expect_err("refused");
            assert!(error.contains(complaint), "{error}");
        }
    }
}
