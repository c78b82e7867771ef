//! Master addresses and redirect locations.

use meseta_core::detector::{parse_location, Endpoint, MasterSpec, DEFAULT_MASTER_PORT};
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
