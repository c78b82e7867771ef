//! Mesos JSON text <-> `mesos.v1` messages, with errors Python users can read.

use std::time::Duration;

use meseta_core::Status;
use prost::{Message, Name};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Decodes one message; `what` names it in the error.
pub fn message<M: Message + Name + Default>(what: &str, json: &str) -> PyResult<M> {
    meseta_proto::json::from_slice(json.as_bytes())
        .map_err(|error| PyValueError::new_err(format!("invalid {what}: {error}")))
}

/// Decodes a JSON array of messages.
pub fn messages<M: Message + Name + Default>(what: &str, json: &str) -> PyResult<Vec<M>> {
    let value: serde_json::Value = serde_json::from_str(json)
        .map_err(|error| PyValueError::new_err(format!("invalid {what}: {error}")))?;
    let serde_json::Value::Array(items) = value else {
        return Err(PyValueError::new_err(format!("{what} must be a list")));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            meseta_proto::json::from_value(&item).map_err(|error| {
                PyValueError::new_err(format!("invalid {what} (item {index}): {error}"))
            })
        })
        .collect()
}

/// Decodes an optional message.
pub fn optional<M: Message + Name + Default>(
    what: &str,
    json: Option<&str>,
) -> PyResult<Option<M>> {
    json.map(|json| message(what, json)).transpose()
}

/// Encodes a message as Mesos JSON text.
pub fn json<M: Message + Name>(message: &M) -> String {
    meseta_proto::json::to_value(message).to_string()
}

/// A JSON string literal (for plain strings and base64 data).
pub fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// Bytes as the JSON string of their base64, as Mesos JSON carries `bytes`.
pub fn json_bytes(data: &[u8]) -> String {
    use base64::Engine;
    json_string(&base64::engine::general_purpose::STANDARD.encode(data))
}

/// The status code Mesos's language bindings return.
pub fn code(status: Status) -> i32 {
    status.as_mesos_code()
}

/// Waits for a driver with the GIL released, a slice at a time, so that
/// Ctrl-C (or any pending signal handler) interrupts the wait.
pub fn join(py: Python<'_>, wait: impl Fn(Duration) -> Option<Status> + Sync) -> PyResult<i32> {
    loop {
        if let Some(status) = py.detach(|| wait(Duration::from_millis(100))) {
            return Ok(code(status));
        }
        py.check_signals()?;
    }
}

/// Forwards a callback to the Python driver object: `handler._dispatch(name,
/// [json, ...])`. The Python side handles the user's exceptions; an error
/// here means the dispatcher itself failed, which is printed with its
/// traceback rather than lost.
pub fn dispatch(handler: &Py<PyAny>, name: &str, arguments: Vec<String>) {
    Python::attach(|py| {
        if let Err(error) = handler.call_method1(py, "_dispatch", (name, arguments)) {
            tracing::error!(callback = name, "the Python dispatcher failed");
            error.print(py);
        }
    });
}
