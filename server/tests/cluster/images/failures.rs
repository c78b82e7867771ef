//! Bad images fail the task with a message saying which image and why,
//! and leave nothing half-made in the store: an image the registry does
//! not have, one whose layer is not what its digest says, one whose layer
//! is not an archive, one on a registry that cannot be reached. The bad blobs come from a small fake registry that
//! also makes the agent go through the anonymous token handshake.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use meseta_proto::v1::{task_status::Reason, TaskState};

use super::*;
use crate::isolation::{assert_status, launch};

/// The sha256 digest of `bytes` (`sha256:<hex>`), by `sha256sum`.
fn digest(bytes: &[u8]) -> String {
    let mut child = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write");
    let out = child.wait_with_output().expect("sha256sum output");
    let text = String::from_utf8_lossy(&out.stdout);
    format!(
        "sha256:{}",
        text.split_whitespace().next().expect("a digest")
    )
}

/// A registry serving `routes` (path → body) to requests that carry the
/// token it hands out at `/token`; counts token requests.
struct FakeRegistry {
    address: String,
    tokens: Arc<AtomicUsize>,
}

impl FakeRegistry {
    fn start(routes: HashMap<String, (String, Vec<u8>)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let tokens = Arc::new(AtomicUsize::new(0));
        let (realm, counter) = (format!("http://{address}/token"), Arc::clone(&tokens));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve(stream, &routes, &realm, &counter);
            }
        });
        Self { address, tokens }
    }
}

fn serve(
    mut stream: TcpStream,
    routes: &HashMap<String, (String, Vec<u8>)>,
    realm: &str,
    tokens: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut authorized = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if line
            .to_ascii_lowercase()
            .starts_with("authorization: bearer fake-token")
        {
            authorized = true;
        }
    }
    let (status, content_type, body, extra) = if path.starts_with("/token") {
        tokens.fetch_add(1, Ordering::SeqCst);
        (
            "200 OK",
            "application/json".to_string(),
            br#"{"token":"fake-token"}"#.to_vec(),
            String::new(),
        )
    } else if !authorized {
        let challenge = format!(
            "WWW-Authenticate: Bearer realm=\"{realm}\",service=\"fake\",scope=\"repository:fake:pull\"\r\n"
        );
        (
            "401 Unauthorized",
            "application/json".into(),
            b"{}".to_vec(),
            challenge,
        )
    } else if let Some((content_type, body)) = routes.get(&path) {
        ("200 OK", content_type.clone(), body.clone(), String::new())
    } else {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#.to_vec();
        (
            "404 Not Found",
            "application/json".into(),
            body,
            String::new(),
        )
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)
}

/// Routes for an image `fake/<name>:1` whose one layer is served as
/// `served` under the digest of `claimed`.
fn bad_image(
    routes: &mut HashMap<String, (String, Vec<u8>)>,
    name: &str,
    claimed: &[u8],
    served: &[u8],
) {
    let layer = digest(claimed);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
    );
    let config_digest = digest(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
        "config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{config_digest}"}},
        "layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":{},"digest":"{layer}"}}]}}"#,
        config.len(),
        served.len()
    );
    let json = "application/json".to_string();
    routes.insert(
        format!("/v2/fake/{name}/manifests/1"),
        (
            "application/vnd.docker.distribution.manifest.v2+json".into(),
            manifest.into_bytes(),
        ),
    );
    routes.insert(
        format!("/v2/fake/{name}/blobs/{config_digest}"),
        (json.clone(), config.into_bytes()),
    );
    routes.insert(
        format!("/v2/fake/{name}/blobs/{layer}"),
        (json, served.to_vec()),
    );
}

#[test]
fn bad_images_fail_their_tasks_saying_why_and_leave_nothing_half_made() {
    let Some(env) = environment() else {
        return;
    };
    let garbage = b"\x1f\x8b\x08\x00this is gzip magic followed by nothing of the sort".to_vec();
    let mut routes = HashMap::new();
    bad_image(&mut routes, "corrupt", &garbage, &garbage);
    bad_image(
        &mut routes,
        "mismatch",
        b"what the manifest promised",
        b"what the registry serves",
    );
    let fake = FakeRegistry::start(routes);
    let store = tempfile::tempdir().expect("store dir");
    let tc = image_agent(
        "cpus:2;mem:512",
        &format!("http://{}", fake.address),
        store.path(),
    );
    let mut fw = TestFramework::start(&tc.master(), framework_info("bad", false));
    let offer = fw.offers().remove(0);
    let missing = format!("{}/meseta-test/no-such-image:1", env.registry);
    launch(
        &fw,
        &offer,
        vec![
            image_task("missing", &offer, "true", &missing),
            image_task("corrupt", &offer, "true", "fake/corrupt:1"),
            image_task("mismatch", &offer, "true", "fake/mismatch:1"),
            image_task("unreachable", &offer, "true", "127.0.0.1:1/nothing/here:1"),
        ],
    );
    let failed = Some(Reason::ContainerLaunchFailed);
    let status = fw.terminal("missing");
    assert_status(
        &status,
        TaskState::TaskFailed,
        failed,
        &[&missing, "not found"],
    );
    let status = fw.terminal("corrupt");
    assert_status(
        &status,
        TaskState::TaskFailed,
        failed,
        &["fake/corrupt:1", "corrupt layer"],
    );
    let status = fw.terminal("mismatch");
    assert_status(
        &status,
        TaskState::TaskFailed,
        failed,
        &["fake/mismatch:1", "digest mismatch"],
    );
    let status = fw.terminal("unreachable");
    let words = ["127.0.0.1:1/nothing/here:1", "cannot reach"];
    assert_status(&status, TaskState::TaskFailed, failed, &words);
    assert!(
        fake.tokens.load(Ordering::SeqCst) >= 1,
        "the agent asked for a token"
    );

    for sub in ["layers", "staging", "configs", "images"] {
        let half = temporaries(&store.path().join(sub));
        assert!(half.is_empty(), "half-made {sub} left: {half:?}");
    }
    let layers: Vec<_> = std::fs::read_dir(store.path().join("layers"))
        .expect("layers")
        .flatten()
        .collect();
    assert!(
        layers.is_empty(),
        "no bad layer is in the store: {layers:?}"
    );
    let records: Vec<_> = std::fs::read_dir(store.path().join("images"))
        .expect("images")
        .flatten()
        .collect();
    assert!(records.is_empty(), "no bad image is recorded: {records:?}");
    assert_eq!(pulls(&tc), 0.0);

    // A retry fails the same way: nothing half-extracted is reused.
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![image_task("again", &offer, "true", "fake/corrupt:1")],
    );
    assert_status(
        &fw.terminal("again"),
        TaskState::TaskFailed,
        failed,
        &["corrupt layer"],
    );
}

#[test]
fn an_image_missing_from_the_save_directory_fails_its_task() {
    let Some(env) = environment() else {
        return;
    };
    let store = tempfile::tempdir().expect("store dir");
    let tc = image_agent(
        "cpus:1;mem:256",
        &env.save_dir.display().to_string(),
        store.path(),
    );
    let mut fw = TestFramework::start(&tc.master(), framework_info("nosave", false));
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![image_task("absent", &offer, "true", "meseta-test/absent:7")],
    );
    let status = fw.terminal("absent");
    assert_status(
        &status,
        TaskState::TaskFailed,
        Some(Reason::ContainerLaunchFailed),
        &["meseta-test/absent:7", "not found", "absent:7.tar"],
    );
}

#[test]
fn where_images_cannot_run_their_tasks_fail_saying_why() {
    if !crate::isolation::can_isolate() {
        return;
    }
    let plain = cluster_with_agent_args("cpus:1;mem:256", &["--isolation", "posix/cpu,posix/mem"]);
    let no_pid = cluster_with_agent_args(
        "cpus:1;mem:256",
        &[
            "--isolation",
            "cgroups/cpu,cgroups/mem,filesystem/linux,docker/runtime",
        ],
    );
    let cases: [(&TestCluster, &[&str]); 2] = [
        (&plain, &["plain processes"]),
        (
            &no_pid,
            &["missing: namespaces/pid", "cannot run on this agent"],
        ),
    ];
    for (tc, words) in cases {
        let mut fw = TestFramework::start(&tc.master(), framework_info("refused", false));
        let offer = fw.offers().remove(0);
        launch(
            &fw,
            &offer,
            vec![image_task("refused", &offer, "true", "busybox")],
        );
        let status = fw.terminal("refused");
        assert_status(
            &status,
            TaskState::TaskFailed,
            Some(Reason::ContainerLaunchFailed),
            words,
        );
    }
}
