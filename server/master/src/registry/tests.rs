use std::io::Write;
use std::time::Duration;

use meseta_proto::v1;

use super::file::FileStore;
use super::{ops, RegistryError, RegistryState};

fn agent(id: &str) -> v1::AgentInfo {
    v1::AgentInfo {
        hostname: format!("host-{id}"),
        id: Some(v1::AgentId { value: id.into() }),
        ..Default::default()
    }
}

fn framework(id: &str) -> v1::FrameworkInfo {
    v1::FrameworkInfo {
        name: format!("fw-{id}"),
        user: "nobody".into(),
        id: Some(v1::FrameworkId { value: id.into() }),
        failover_timeout: Some(60.0),
        ..Default::default()
    }
}

#[test]
fn operations_move_agents_between_states_and_are_idempotent() {
    let mut state = RegistryState::default();
    let steps = [
        ops::admit_agent(&agent("a")),
        ops::admit_agent(&agent("b")),
        ops::mark_unreachable(&agent("a"), Duration::from_secs(5)),
        ops::mark_gone("b", Duration::from_secs(6)),
        ops::save_framework(&framework("f")),
    ];
    for op in &steps {
        state.apply(op);
    }
    let once = state.clone();
    for op in &steps {
        state.apply(op);
    }
    assert_eq!(state, once, "replaying operations changes nothing");
    assert!(state.agents.is_empty());
    assert_eq!(state.unreachable["a"].1, Duration::from_secs(5));
    assert_eq!(state.gone["b"], Duration::from_secs(6));
    state.apply(&ops::mark_reachable(&agent("a")));
    state.apply(&ops::remove_framework("f"));
    assert!(state.agents.contains_key("a") && state.unreachable.is_empty());
    assert!(state.frameworks.is_empty());
    assert_eq!(RegistryState::from_proto(state.to_proto()), state);
}

#[test]
fn file_store_survives_reopen_and_a_torn_last_record() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = FileStore::open(dir.path()).unwrap();
        assert_eq!(store.recover().unwrap(), RegistryState::default());
        store
            .apply(&[
                ops::admit_agent(&agent("a")),
                ops::save_framework(&framework("f")),
            ])
            .unwrap();
        store.apply(&[ops::admit_agent(&agent("b"))]).unwrap();
    }
    // A crash in the middle of a later append leaves half a record.
    let log = dir.path().join("registry.log");
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    file.write_all(&[40, 0, 0, 0, 1, 2, 3]).unwrap();
    drop(file);
    let length_with_tear = std::fs::metadata(&log).unwrap().len();

    let mut store = FileStore::open(dir.path()).unwrap();
    let state = store.recover().unwrap();
    assert_eq!(
        state.agents.keys().collect::<Vec<_>>(),
        vec!["a", "b"],
        "acknowledged writes survive"
    );
    assert!(state.frameworks.contains_key("f"));
    assert_eq!(std::fs::metadata(&log).unwrap().len(), length_with_tear - 7);
    // Writing after the torn tail was cut works and is read back.
    store
        .apply(&[ops::mark_gone("a", Duration::from_secs(1))])
        .unwrap();
    drop(store);
    let state = FileStore::open(dir.path()).unwrap().recover().unwrap();
    assert!(state.gone.contains_key("a") && !state.agents.contains_key("a"));
}

#[test]
fn a_corrupt_record_in_the_log_ends_recovery_there() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut store = FileStore::open(dir.path()).unwrap();
        store.recover().unwrap();
        store.apply(&[ops::admit_agent(&agent("a"))]).unwrap();
        store.apply(&[ops::admit_agent(&agent("b"))]).unwrap();
    }
    let log = dir.path().join("registry.log");
    let mut bytes = std::fs::read(&log).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&log, bytes).unwrap();
    let state = FileStore::open(dir.path()).unwrap().recover().unwrap();
    assert_eq!(state.agents.keys().collect::<Vec<_>>(), vec!["a"]);
}

#[test]
fn two_masters_cannot_share_a_local_registry() {
    let dir = tempfile::tempdir().unwrap();
    let _first = FileStore::open(dir.path()).unwrap();
    match FileStore::open(dir.path()) {
        Err(RegistryError::Locked { .. }) => {}
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[test]
fn a_large_registry_is_compacted_into_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FileStore::open(dir.path()).unwrap();
    store.recover().unwrap();
    let padding = "x".repeat(4096);
    for round in 0..1200 {
        let mut info = agent(&format!("a{}", round % 50));
        info.hostname = format!("{padding}{round}");
        store.apply(&[ops::admit_agent(&info)]).unwrap();
    }
    assert!(dir.path().join("registry.snapshot").exists());
    let log_len = std::fs::metadata(dir.path().join("registry.log"))
        .unwrap()
        .len();
    assert!(log_len < 4 << 20, "log was compacted, {log_len} bytes left");
    drop(store);
    let state = FileStore::open(dir.path()).unwrap().recover().unwrap();
    assert_eq!(state.agents.len(), 50);
    assert!(state.agents["a49"].hostname.ends_with("1199"));
}
