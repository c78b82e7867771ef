//! A scheduler subscription opened by hand over the v1 HTTP API (JSON), for
//! tests of what the Rust driver does not send.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use serde_json::{json, Value};

use crate::common::DEADLINE;

const JSON: &str = "application/json";

/// A subscription opened by hand (JSON): the open stream, which must stay
/// open for calls to be accepted, its `Mesos-Stream-Id`, and the framework ID.
pub struct RawSubscription {
    _stream: TcpStream,
    pub stream_id: String,
    pub framework_id: String,
}

/// Subscribes a framework with `framework_info` (JSON).
pub fn subscribe_raw(master: &str, framework_info: &Value) -> RawSubscription {
    subscribe_raw_with(master, json!({"framework_info": framework_info}))
}

/// [`subscribe_raw`] with the whole `subscribe` message (offer
/// constraints, suppressed roles).
pub fn subscribe_raw_with(master: &str, subscribe: Value) -> RawSubscription {
    let body = json!({"type": "SUBSCRIBE", "subscribe": subscribe}).to_string();
    let mut stream = TcpStream::connect(master).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let head = format!(
        "POST /api/v1/scheduler HTTP/1.1\r\nHost: {master}\r\nContent-Type: {JSON}\r\nAccept: {JSON}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(body.as_bytes()).expect("write");
    let end = Instant::now() + DEADLINE;
    let mut received = Vec::new();
    loop {
        assert!(Instant::now() < end, "no SUBSCRIBED event in time");
        let mut buffer = [0u8; 4096];
        let n = stream.read(&mut buffer).expect("read the subscription");
        assert!(n > 0, "the master closed the subscription: {received:?}");
        received.extend_from_slice(&buffer[..n]);
        let Some(split) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&received[..split]).to_string();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let stream_id = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("mesos-stream-id")
                    .then(|| value.trim().to_string())
            })
            .expect("Mesos-Stream-Id header");
        // Body: `<chunk size>\r\n<record size>\n{event}...`; the first
        // event is SUBSCRIBED.
        let body = &received[split + 4..];
        let Some(start) = body.iter().position(|b| *b == b'{') else {
            continue;
        };
        let mut events = serde_json::Deserializer::from_slice(&body[start..]).into_iter::<Value>();
        let Some(Ok(event)) = events.next() else {
            continue;
        };
        assert_eq!(event["type"], "SUBSCRIBED", "{event}");
        let framework_id = event["subscribed"]["framework_id"]["value"]
            .as_str()
            .expect("framework ID")
            .to_string();
        return RawSubscription {
            _stream: stream,
            stream_id,
            framework_id,
        };
    }
}
