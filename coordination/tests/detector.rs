//! Master addresses, redirect locations, and detection without ZooKeeper.

use meseta_coordination::detector::{
    parse_location, Endpoint, MasterDetector, MasterSpec, DEFAULT_MASTER_PORT,
};
use std::path::PathBuf;

fn endpoint(host: &str, port: u16) -> Endpoint {
    Endpoint::new(host, port)
}

#[test]
fn detector_parses_static_masters() {
    let cases = [
        ("10.0.0.1:5050", endpoint("10.0.0.1", 5050)),
        ("master.example:5051", endpoint("master.example", 5051)),
        (
            "master.example",
            endpoint("master.example", DEFAULT_MASTER_PORT),
        ),
        (
            "http://master.example:8080",
            endpoint("master.example", 8080),
        ),
        (
            "http://master.example:8080/",
            endpoint("master.example", 8080),
        ),
        ("  127.0.0.1:5050\n", endpoint("127.0.0.1", 5050)),
        ("[::1]:5050", endpoint("::1", 5050)),
        ("[fe80::1]", endpoint("fe80::1", DEFAULT_MASTER_PORT)),
    ];
    for (text, expected) in cases {
        assert_eq!(
            MasterSpec::parse(text).ok(),
            Some(MasterSpec::Static(expected)),
            "{text:?}"
        );
    }
}

#[test]
fn detector_rejects_malformed_masters() {
    for text in [
        "",
        ":5050",
        "host:",
        "host:0",
        "host:70000",
        "host:port",
        "::1:5050",
        "[::1",
        "https://master:5050",
        "http://master:5050/some/prefix",
        "zk://",
        "zk://host:2181",
        "file://",
    ] {
        assert!(
            MasterSpec::parse(text).is_err(),
            "{text:?} should be rejected"
        );
    }
}

#[test]
fn detector_parses_zookeeper_and_file_forms() {
    assert_eq!(
        MasterSpec::parse("zk://zk1:2181,zk2:2181/mesos").ok(),
        Some(MasterSpec::ZooKeeper("zk://zk1:2181,zk2:2181/mesos".into()))
    );
    assert_eq!(
        MasterSpec::parse("file:///etc/mesos/master").ok(),
        Some(MasterSpec::File(PathBuf::from("/etc/mesos/master")))
    );
    let spec: MasterSpec = "localhost:5050".parse().expect("FromStr");
    assert_eq!(spec, MasterSpec::Static(endpoint("localhost", 5050)));
}

#[test]
fn detector_formats_endpoints_as_urls() {
    assert_eq!(endpoint("m", 5050).to_string(), "m:5050");
    assert_eq!(endpoint("::1", 5050).to_string(), "[::1]:5050");
    assert_eq!(
        endpoint("m", 5050).url("/api/v1/scheduler"),
        "http://m:5050/api/v1/scheduler"
    );
}

#[test]
fn redirect_location_forms() {
    let current = endpoint("follower", 5050);
    let cases = [
        ("//leader:5051/api/v1/scheduler", endpoint("leader", 5051)),
        (
            "//leader:5051/master/api/v1/scheduler",
            endpoint("leader", 5051),
        ),
        ("//leader/api/v1/scheduler", endpoint("leader", 5050)),
        (
            "http://10.1.1.1:5050/api/v1/scheduler",
            endpoint("10.1.1.1", 5050),
        ),
        (
            "//[2001:db8::1]:5050/api/v1/scheduler",
            endpoint("2001:db8::1", 5050),
        ),
        ("//leader:5051", endpoint("leader", 5051)),
        ("/api/v1/scheduler", current.clone()),
    ];
    for (location, expected) in cases {
        assert_eq!(
            parse_location(location, &current).ok(),
            Some(expected),
            "{location:?}"
        );
    }
    for bad in [
        "",
        "leader:5050/api",
        "https://leader:5050/",
        "//:5050/x",
        "//leader:x/",
    ] {
        assert!(
            parse_location(bad, &current).is_err(),
            "{bad:?} should be rejected"
        );
    }
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

#[test]
fn static_detector_follows_redirects_until_the_leader_fails() {
    block_on(async {
        let mut detector = MasterDetector::new("configured:5050").expect("detector");
        assert_eq!(
            detector.detect().await.ok(),
            Some(endpoint("configured", 5050))
        );
        detector.redirected(&endpoint("leader", 5051));
        assert_eq!(detector.detect().await.ok(), Some(endpoint("leader", 5051)));
        // Another endpoint failing does not forget the leader.
        detector.failed(&endpoint("configured", 5050));
        assert_eq!(detector.detect().await.ok(), Some(endpoint("leader", 5051)));
        detector.failed(&endpoint("leader", 5051));
        assert_eq!(
            detector.detect().await.ok(),
            Some(endpoint("configured", 5050))
        );
    });
}

#[test]
fn file_detector_rereads_the_file() {
    block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("master");
        std::fs::write(&path, "first:5050\n").expect("write");
        let mut detector =
            MasterDetector::new(&format!("file://{}", path.display())).expect("detector");
        assert_eq!(detector.detect().await.ok(), Some(endpoint("first", 5050)));
        std::fs::write(&path, "second:5051").expect("write");
        assert_eq!(detector.detect().await.ok(), Some(endpoint("second", 5051)));
        detector.redirected(&endpoint("leader", 5052));
        assert_eq!(detector.detect().await.ok(), Some(endpoint("leader", 5052)));
        detector.failed(&endpoint("leader", 5052));
        std::fs::write(&path, format!("file://{}", path.display())).expect("write");
        assert!(
            detector.detect().await.is_err(),
            "a file pointing to a file"
        );
        std::fs::remove_file(&path).expect("remove");
        let error = detector.detect().await.expect_err("missing file");
        assert!(
            error.to_string().contains("cannot read master file"),
            "{error}"
        );
    });
}
