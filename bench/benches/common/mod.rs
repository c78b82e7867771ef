//! What the benches that drive real `meseta` processes share: a bare HTTP
//! GET (no client crate), the master's metrics, a process's memory, a
//! child process that dies with the bench, and the task they launch onto
//! simulated agents.

#![allow(dead_code)] // each bench uses its own part

use std::io::{Read, Write};
use std::time::Duration;

use meseta_proto::v1;

/// `GET path` over HTTP/1.0: the whole response (status line, headers and
/// body), or `None` on failure.
pub fn get(address: &str, path: &str, timeout: Duration) -> Option<Vec<u8>> {
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    Some(response)
}

/// `/metrics/snapshot` as text, without spaces.
pub fn metrics(address: &str) -> Option<String> {
    let response = get(address, "/metrics/snapshot", Duration::from_secs(2))?;
    Some(String::from_utf8_lossy(&response).replace(' ', ""))
}

/// A whole-number metric a master reports.
pub fn metric(address: &str, name: &str) -> Option<u64> {
    metric_in(&metrics(address)?, name)
}

/// A whole-number metric in a `/metrics/snapshot` response.
pub fn metric_in(text: &str, name: &str) -> Option<u64> {
    let key = format!("\"{name}\":");
    let at = text.find(&key)? + key.len();
    let number: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    number.parse::<f64>().ok().map(|n| n as u64)
}

/// A process's resident memory in KiB (`VmRSS` in `/proc/PID/status`).
pub fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A child process (`sim-agents`) killed when the bench drops it.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A task for a simulated agent, running until the agent goes away.
pub fn held_task(id: &str, agent_id: &v1::AgentId, cpus: f64, mem: f64) -> v1::TaskInfo {
    let scalar = |name: &str, value: f64| v1::Resource {
        name: name.into(),
        r#type: v1::value::Type::Scalar as i32,
        scalar: Some(v1::value::Scalar { value }),
        ..Default::default()
    };
    v1::TaskInfo {
        name: id.into(),
        task_id: v1::TaskId { value: id.into() },
        agent_id: agent_id.clone(),
        resources: vec![scalar("cpus", cpus), scalar("mem", mem)],
        command: Some(v1::CommandInfo {
            value: Some("sleep 3600".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}
