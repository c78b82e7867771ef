//! A master that does not lead sends schedulers to the one that does.
//! (With ZooKeeper the election drives this; here it is set by hand.)

use meseta_master::{Leadership, MasterConfig, MasterServer};

use crate::common::*;

const SUBSCRIBE: &[u8] =
    br#"{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"redirected"}}}"#;

fn start_master(runtime: &tokio::runtime::Runtime, dir: &std::path::Path) -> MasterServer {
    let config = MasterConfig {
        port: 0,
        work_dir: dir.to_path_buf(),
        ..MasterConfig::default()
    };
    runtime
        .block_on(MasterServer::start(config))
        .expect("master starts")
}

#[test]
fn non_leading_master_redirects_schedulers_and_reports_not_elected() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let leader = start_master(&runtime, &dir.path().join("a"));
    let follower = start_master(&runtime, &dir.path().join("b"));
    let leader_address = leader.address().to_string();
    let follower_address = follower.address().to_string();
    follower
        .handle()
        .set_leadership(Leadership::Following(Some(leader.handle().info().clone())));

    let json = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    ];
    let (status, _) = request(
        &follower_address,
        "POST",
        "/api/v1/scheduler",
        &json,
        SUBSCRIBE,
    );
    assert_eq!(status, 307);
    let (status, _) = request(&follower_address, "GET", "/master/redirect", &[], b"");
    assert_eq!(status, 307);
    let metrics = get_json(&follower_address, "/metrics/snapshot").expect("metrics");
    assert_eq!(metrics["master/elected"], 0.0);
    let state = get_json(&follower_address, "/master/state").expect("state");
    assert_eq!(state["leader"], format!("master@{leader_address}"));

    // The Rust client core follows the redirect and subscribes with the leader.
    let mut fw = TestFramework::start(&follower_address, framework_info("redirected", false));
    assert!(!fw.id.is_empty());
    let frameworks = get_json(&leader_address, "/master/frameworks").expect("frameworks");
    assert_eq!(frameworks["frameworks"][0]["id"], fw.id.as_str());
    fw.driver.stop(false);
    let _ = fw.next_event(std::time::Duration::from_millis(10));

    // No known leader: 503, and a master that leads again takes calls.
    follower
        .handle()
        .set_leadership(Leadership::Following(None));
    let (status, _) = request(
        &follower_address,
        "POST",
        "/api/v1/scheduler",
        &json,
        SUBSCRIBE,
    );
    assert_eq!(status, 503);
    follower.handle().set_leadership(Leadership::Leading);
    let metrics = get_json(&follower_address, "/metrics/snapshot").expect("metrics");
    assert_eq!(metrics["master/elected"], 1.0);
    runtime.block_on(async {
        follower.stop().await;
        leader.stop().await;
    });
}

/// A master whose driver loop panics does not stay up half-dead (holding
/// its leadership, answering 503): it stops serving, and says why, so
/// that the binary exits non-zero and another master takes over.
#[test]
fn a_master_whose_loop_panics_stops_and_says_why() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut master = start_master(&runtime, dir.path());
    let address = master.address().to_string();
    assert!(get_json(&address, "/master/state").is_ok());
    let handle = master.handle();
    runtime.spawn(async move {
        handle
            .inspect(|_| -> () { panic!("injected failure in the loop") })
            .await
    });
    let stopped = runtime.block_on(async {
        tokio::time::timeout(DEADLINE, master.wait())
            .await
            .expect("the server ends")
    });
    let said = stopped.to_string();
    assert!(
        matches!(stopped, meseta_master::server::Stopped::Panicked(_)),
        "{said}"
    );
    assert!(said.contains("injected failure in the loop"), "{said}");
    wait_until(DEADLINE, "the port to close", || {
        std::net::TcpStream::connect(&address).is_err()
    });
}

/// A master just elected reads its registry before it leads. Meanwhile
/// schedulers get a 503 that says so, and an agent that attaches is held
/// until the master leads instead of being refused (a refusal would grow
/// its backoff just when a failed-over cluster needs every agent back).
#[test]
fn a_recovering_master_holds_agents_and_turns_schedulers_away() {
    use meseta_proto::cluster::agent_link_client::AgentLinkClient;
    use meseta_proto::cluster::{agent_message, AgentMessage, Register};

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let master = start_master(&runtime, dir.path());
    let address = master.address().to_string();
    master.handle().set_leadership(Leadership::Recovering);

    let json = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json"),
    ];
    let (status, body) = request(&address, "POST", "/api/v1/scheduler", &json, SUBSCRIBE);
    assert_eq!(status, 503);
    assert!(String::from_utf8_lossy(&body).contains("recovering"));
    let (status, _) = request(&address, "GET", "/master/redirect", &[], b"");
    assert_eq!(status, 503);

    let register = AgentMessage {
        kind: Some(agent_message::Kind::Register(Register {
            info: meseta_proto::v1::AgentInfo {
                hostname: "held".into(),
                ..Default::default()
            },
            ..Default::default()
        })),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.try_send(register).expect("queued");
    let url = format!("http://{address}");
    let mut attach = runtime.spawn(async move {
        let mut client = AgentLinkClient::connect(url).await?;
        let response = client
            .attach(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(response.map(|_| ()))
    });
    // A refused attach would end here, well within this time.
    let early = runtime.block_on(async {
        tokio::time::timeout(std::time::Duration::from_millis(500), &mut attach).await
    });
    assert!(
        early.is_err(),
        "the attach ended while recovering: {early:?}"
    );

    master.handle().set_leadership(Leadership::Leading);
    let attached = runtime
        .block_on(async { tokio::time::timeout(DEADLINE, attach).await })
        .expect("the held attach ends once the master leads")
        .expect("task")
        .expect("connects");
    assert!(attached.is_ok(), "{attached:?}");
    wait_until(DEADLINE, "the held agent to register", || {
        get_json(&address, "/master/slaves").is_ok_and(|s| s["slaves"][0]["hostname"] == "held")
    });
    drop(tx);
    runtime.block_on(master.stop());
}
