//! Commands run inside running tasks: `meseta exec` (output, exit code,
//! input, a terminal, a client that goes away) and the agent calls under
//! it (LAUNCH_NESTED_CONTAINER_SESSION, ATTACH_CONTAINER_OUTPUT,
//! ATTACH_CONTAINER_INPUT, WAIT_CONTAINER) spoken in JSON over RecordIO, as
//! other `task exec` tools speak them, with their refusals.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use base64::Engine as _;
use meseta_proto::v1::TaskState;
use serde_json::{json, Value};

use crate::cli::{failure, meseta, stdout};
use crate::common::*;

const RECORDIO: &str = "application/recordio";
const JSON: &str = "application/json";

/// A cluster of one agent running `command` as task `id`; its framework.
fn running(id: &str, command: &str) -> (TestCluster, TestFramework) {
    let tc = start_cluster(1, "cpus:1;mem:256", &[]);
    let mut fw = TestFramework::start(&tc.master(), framework_info("exec-target", false));
    let offer = fw.offers().remove(0);
    let task = command_task(id, &offer, command, "cpus:0.25;mem:64");
    fw.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![task], None);
    fw.state(id, TaskState::TaskRunning);
    (tc, fw)
}

fn exit_code(output: &std::process::Output) -> Option<i32> {
    output.status.code()
}

#[test]
fn exec_runs_a_command_inside_the_task_and_exits_with_its_code() {
    // The task waits for a file in its sandbox that only `exec` writes.
    let (tc, mut fw) = running(
        "waiter",
        "while [ ! -e from-exec ]; do sleep 0.05; done; echo saw it",
    );
    let master = tc.master();
    let output = meseta(&[
        "exec",
        "--master",
        &master,
        "waiter",
        "--",
        "sh",
        "-c",
        "echo \"$MESOS_TASK_ID in $(pwd)\"; echo to-stderr >&2; touch from-exec; exit 7",
    ]);
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert_eq!(exit_code(&output), Some(7), "{out}{err}");
    assert!(
        out.starts_with("waiter in /"),
        "the task's environment: {out}"
    );
    assert!(err.contains("to-stderr"), "{err}");
    // Same sandbox, same filesystem: the task saw the file and finished.
    fw.state("waiter", TaskState::TaskFinished);

    let line = failure(&meseta(&[
        "exec", "--master", &master, "waiter", "--", "true",
    ]));
    assert!(line.contains("has already ended"), "{line}");
    let line = failure(&meseta(&[
        "exec", "--master", &master, "no-such", "--", "true",
    ]));
    assert!(line.contains("no-such"), "{line}");
}

#[test]
fn exec_takes_input_gives_a_terminal_and_ends_with_its_client() {
    let (tc, _fw) = running("sleeper", "sleep 600");
    let master = tc.master();
    let agent = tc.cluster.agents[0].address.clone();

    let mut cat = Command::new(env!("CARGO_BIN_EXE_meseta"))
        .args(["exec", "-i", "--master", &master, "sleeper", "--", "cat"])
        .env_remove("MESOS_MASTER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("meseta exec -i");
    let mut input = cat.stdin.take().expect("stdin");
    input.write_all(b"one\ntwo\n").expect("write");
    drop(input);
    let output = cat.wait_with_output().expect("exec -i ends");
    assert_eq!(stdout(&output), "one\ntwo\n");

    let tty = stdout(&meseta(&[
        "exec", "-t", "--master", &master, "sleeper", "--", "tty",
    ]));
    assert!(tty.starts_with("/dev/pts/"), "a terminal of its own: {tty}");

    // A client that goes away takes its command with it.
    let mut client = Command::new(env!("CARGO_BIN_EXE_meseta"))
        .args(["exec", "--master", &master, "sleeper", "--"])
        .args(["sh", "-c", "echo started; exec sleep 600"])
        .env_remove("MESOS_MASTER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("meseta exec");
    let mut first = String::new();
    BufReader::new(client.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a line");
    assert_eq!(first, "started\n");
    assert_eq!(nested_containers(&agent), 1, "the session runs");
    client.kill().expect("kill the client");
    let _ = client.wait();
    wait_until(DEADLINE, "the session to end with its client", || {
        nested_containers(&agent) == 0
    });
}

/// The agent's running sessions (GET_CONTAINERS with `show_nested`).
fn nested_containers(agent: &str) -> usize {
    let (status, answer) = call_json(
        agent,
        json!({ "type": "GET_CONTAINERS", "get_containers": { "show_nested": true } }),
    );
    assert_eq!(status, 200, "{answer}");
    answer["get_containers"]["containers"]
        .as_array()
        .map_or(0, |all| {
            all.iter()
                .filter(|c| c["container_id"].get("parent").is_some())
                .count()
        })
}

/// An HTTP/1.1 exchange whose response body streams (chunked RecordIO).
struct Streaming {
    reader: BufReader<TcpStream>,
    status: u16,
    head: String,
    decoder: meseta_proto::recordio::Decoder,
}

impl Streaming {
    /// POSTs `body` with `headers`; returns once the response head is in.
    fn post(address: &str, headers: &[(&str, &str)], body: &[u8]) -> Self {
        let mut stream = TcpStream::connect(address).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let mut head = format!(
            "POST /api/v1 HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).expect("write");
        stream.write_all(body).expect("write");
        Self::answer(stream)
    }

    fn answer(stream: TcpStream) -> Self {
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("a head line");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line.to_ascii_lowercase());
        }
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        Self {
            reader,
            status,
            head,
            decoder: meseta_proto::recordio::Decoder::new(),
        }
    }

    /// The next record, as JSON; `None` at the end of the stream.
    fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(record) = self.decoder.next_record().expect("RecordIO") {
                return Some(serde_json::from_slice(&record).expect("a JSON record"));
            }
            let mut size = String::new();
            self.reader.read_line(&mut size).expect("a chunk size");
            let size = usize::from_str_radix(size.trim(), 16).expect("hex size");
            if size == 0 {
                return None;
            }
            let mut chunk = vec![0u8; size + 2];
            self.reader.read_exact(&mut chunk).expect("a chunk");
            self.decoder.feed(&chunk[..size]);
        }
    }

    /// Every `(type, text)` of the stream's data records until it ends.
    fn all_output(&mut self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        while let Some(record) = self.next() {
            assert_eq!(record["type"], "DATA", "{record}");
            let data = base64::engine::general_purpose::STANDARD
                .decode(record["data"]["data"].as_str().unwrap_or_default())
                .expect("base64");
            let kind = record["data"]["type"].as_str().unwrap_or_default();
            out.push((
                kind.to_string(),
                String::from_utf8_lossy(&data).into_owned(),
            ));
        }
        out
    }
}

/// An ATTACH_CONTAINER_INPUT request whose records are sent one by one.
struct InputStream {
    stream: TcpStream,
}

impl InputStream {
    fn open(address: &str, container_id: &Value) -> Self {
        let mut stream = TcpStream::connect(address).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
        let head = format!(
            "POST /api/v1 HTTP/1.1\r\nHost: {address}\r\nContent-Type: {RECORDIO}\r\nMessage-Content-Type: {JSON}\r\nAccept: {JSON}\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("write");
        let mut input = Self { stream };
        input.send(json!({
            "type": "ATTACH_CONTAINER_INPUT",
            "attach_container_input": { "type": "CONTAINER_ID", "container_id": container_id }
        }));
        input
    }

    fn send(&mut self, call: Value) {
        let record = meseta_proto::recordio::encode(call.to_string().as_bytes());
        let chunk = format!("{:x}\r\n", record.len());
        self.stream.write_all(chunk.as_bytes()).expect("write");
        self.stream.write_all(&record).expect("write");
        self.stream.write_all(b"\r\n").expect("write");
    }

    fn stdin(&mut self, data: &[u8]) {
        let data = base64::engine::general_purpose::STANDARD.encode(data);
        self.send(json!({
            "type": "ATTACH_CONTAINER_INPUT",
            "attach_container_input": {
                "type": "PROCESS_IO",
                "process_io": { "type": "DATA", "data": { "type": "STDIN", "data": data } }
            }
        }));
    }

    /// Ends the request; the agent's status. (The agent may have answered
    /// already, a refusal or after the end of input, and stopped reading.)
    fn finish(mut self) -> u16 {
        let _ = self.stream.write_all(b"0\r\n\r\n");
        Streaming::answer(self.stream).status
    }
}

fn launch_headers() -> [(&'static str, &'static str); 3] {
    [
        ("Content-Type", JSON),
        ("Accept", RECORDIO),
        ("Message-Accept", JSON),
    ]
}

#[test]
fn sessions_speak_recordio_in_json_and_refuse_what_they_cannot_do() {
    let (tc, fw) = running("host", "sleep 600");
    let agent = tc.cluster.agents[0].address.clone();
    let (_, containers) = call_json(&agent, json!({ "type": "GET_CONTAINERS" }));
    let parent = containers["get_containers"]["containers"][0]["container_id"].clone();
    assert!(parent["value"].is_string(), "{containers}");
    let session = json!({ "value": "session-1", "parent": parent });
    let launch = |id: &Value, accept: &[(&str, &str)]| {
        let call = json!({
            "type": "LAUNCH_NESTED_CONTAINER_SESSION",
            "launch_nested_container_session": {
                "container_id": id,
                "command": { "shell": true, "value": "cat; echo done >&2" }
            }
        });
        Streaming::post(&agent, accept, call.to_string().as_bytes())
    };

    let mut own = launch(&session, &launch_headers());
    assert_eq!(own.status, 200);
    assert!(
        own.head.contains("content-type: application/recordio"),
        "{}",
        own.head
    );
    assert!(
        own.head.contains("message-content-type: application/json"),
        "{}",
        own.head
    );
    let attach = json!({
        "type": "ATTACH_CONTAINER_OUTPUT",
        "attach_container_output": { "container_id": session }
    });
    let mut other = Streaming::post(&agent, &launch_headers(), attach.to_string().as_bytes());
    assert_eq!(other.status, 200);

    let mut input = InputStream::open(&agent, &session);
    input.stdin(b"hello\n");
    let echoed = own.next().expect("the echo");
    assert_eq!(echoed["data"]["type"], "STDOUT", "{echoed}");
    assert_eq!(
        echoed["data"]["data"], "aGVsbG8K",
        "hello, base64: {echoed}"
    );
    // One writer at a time.
    let second = InputStream::open(&agent, &session);
    assert_eq!(second.finish(), 409);
    input.stdin(b"");
    assert_eq!(input.finish(), 200);

    let output = own.all_output();
    assert_eq!(output, vec![("STDERR".into(), "done\n".into())]);
    let seen = other.all_output();
    assert!(
        seen.contains(&("STDOUT".into(), "hello\n".into())),
        "{seen:?}"
    );
    for kind in ["WAIT_CONTAINER", "WAIT_NESTED_CONTAINER"] {
        let field = kind.to_ascii_lowercase();
        let (status, answer) = call_json(
            &agent,
            json!({ "type": kind, field.clone(): { "container_id": session } }),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer[&field]["exit_status"], 0, "{answer}");
    }

    // Refusals, each with nothing started.
    assert_eq!(
        launch(&session, &launch_headers()).status,
        409,
        "an ID in use"
    );
    let json_only = [("Content-Type", JSON), ("Accept", JSON)];
    let fresh = json!({ "value": "session-2", "parent": parent });
    assert_eq!(
        launch(&fresh, &json_only).status,
        406,
        "a stream needs RecordIO"
    );
    let orphan = json!({ "value": "session-3" });
    assert_eq!(launch(&orphan, &launch_headers()).status, 400, "no parent");
    let lost = json!({ "value": "session-4", "parent": { "value": "no-such" } });
    assert_eq!(
        launch(&lost, &launch_headers()).status,
        404,
        "unknown parent"
    );
    let unknown = json!({
        "type": "ATTACH_CONTAINER_OUTPUT",
        "attach_container_output": { "container_id": { "value": "no-such" } }
    });
    let refused = Streaming::post(&agent, &launch_headers(), unknown.to_string().as_bytes());
    assert_eq!(refused.status, 404);
    let (status, _) = call_json(
        &agent,
        json!({
            "type": "ATTACH_CONTAINER_INPUT",
            "attach_container_input": { "type": "CONTAINER_ID", "container_id": fresh }
        }),
    );
    assert_eq!(status, 415, "input is a stream");
    assert_eq!(nested_containers(&agent), 0);
    drop(fw);
}
