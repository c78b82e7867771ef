//! The web UI is served by every master, leading or not: the page at `/`,
//! its modules and style under `/webui/`, with their content types and
//! `Cache-Control: no-cache`; unknown files are 404.

use meseta::launcher::{Cluster, ClusterSpec};
use meseta::zookeeper::ZooKeeper;

use crate::common::*;

/// A GET's status, headers (lower-case names) and body.
fn get(address: &str, path: &str) -> (u16, String, String) {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    use std::io::{Read, Write};
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let text = String::from_utf8_lossy(&response).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn assert_ui_served(address: &str, who: &str) {
    let (status, head, body) = get(address, "/");
    assert_eq!(status, 200, "{who}: / answered {status}");
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{who}: {head}"
    );
    assert!(head.contains("cache-control: no-cache"), "{who}: {head}");
    assert!(body.contains("<!doctype html>"), "{who}: {body}");
    assert!(
        body.contains("/webui/app.js"),
        "{who}: the page loads its module"
    );

    for (path, content_type, sample) in [
        ("/webui/app.js", "text/javascript", "Subscription"),
        ("/webui/stream.js", "text/javascript", "RecordReader"),
        ("/webui/style.css", "text/css", "--accent"),
        ("/webui/favicon.svg", "image/svg+xml", "<svg"),
    ] {
        let (status, head, body) = get(address, path);
        assert_eq!(status, 200, "{who}: {path} answered {status}");
        assert!(
            head.contains(&format!("content-type: {content_type}")),
            "{who}: {path}: {head}"
        );
        assert!(head.contains("cache-control: no-cache"), "{who}: {path}");
        assert!(
            body.contains(sample),
            "{who}: {path} is not the expected file"
        );
    }
    for path in ["/webui/x", "/webui/app.js.map", "/webui/../Cargo.toml"] {
        let (status, _, _) = get(address, path);
        assert_eq!(status, 404, "{who}: {path} answered {status}");
    }
}

#[test]
fn every_master_serves_the_web_ui() {
    need_zookeeper();
    let root = tempfile::tempdir().expect("temp dir");
    let zookeeper = ZooKeeper::start(&root.path().join("zk")).expect("zookeeper starts");
    let mut spec = ClusterSpec::new(env!("CARGO_BIN_EXE_meseta"), root.path(), 0);
    spec.masters = 2;
    spec.zk = Some(zookeeper.url("/meseta"));
    let mut cluster = Cluster::start(spec).expect("cluster starts");
    let addresses: Vec<String> = cluster.masters_mut().map(|m| m.address.clone()).collect();
    let mut leader = None;
    wait_until(DEADLINE, "one elected master", || {
        leader = elected(&addresses);
        leader.is_some()
    });
    let leader = leader.unwrap_or_default();
    let follower = 1 - leader;
    wait_until(DEADLINE, "the follower knows the leader", || {
        request(&addresses[follower], "GET", "/master/redirect", &[], b"").0 == 307
    });
    assert_ui_served(&addresses[leader], "leader");
    assert_ui_served(&addresses[follower], "follower");
}
