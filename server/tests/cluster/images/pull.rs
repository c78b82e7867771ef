//! Where images come from, and that each is pulled once: from the
//! registry (also by several launches at once), from a `docker save`
//! directory, and from the store on later launches.

use meseta::docker_env::TEST_IMAGE;
use meseta_proto::v1::TaskState;

use super::*;
use crate::isolation::{launch, sandbox_file};

#[test]
fn an_image_is_pulled_from_the_registry_once_and_then_comes_from_the_store() {
    let Some(env) = environment() else {
        return;
    };
    let store = tempfile::tempdir().expect("store dir");
    let registry = format!("http://{}", env.registry);
    let tc = image_agent("cpus:2;mem:512", &registry, store.path());
    assert_eq!(pulls(&tc), 0.0);
    let mut fw = TestFramework::start(&tc.master(), framework_info("pull", false));
    let offer = fw.offers().remove(0);
    let probe = "test -x /bin/busybox && echo pulled > $MESOS_SANDBOX/out";
    // Two launches of one image at once share one pull.
    launch(
        &fw,
        &offer,
        vec![
            image_task("first", &offer, probe, TEST_IMAGE),
            image_task("second", &offer, probe, TEST_IMAGE),
        ],
    );
    for task in ["first", "second"] {
        let status = fw.terminal(task);
        assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
        assert_eq!(sandbox_file(&tc, task, "out").trim(), "pulled");
    }
    assert_eq!(pulls(&tc), 1.0, "one pull for two launches");
    let layers = store.path().join("layers");
    let unpacked = std::fs::read_dir(&layers).expect("layers").count();
    assert!(unpacked >= 1, "layers unpacked in {}", layers.display());

    // A later launch finds it in the store: no pull, no request.
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![image_task("third", &offer, probe, TEST_IMAGE)],
    );
    let status = fw.terminal("third");
    assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
    assert_eq!(pulls(&tc), 1.0, "the cached image is not pulled again");

    // The image named with its registry is the same image.
    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![image_task("named", &offer, probe, &env.registry_image)],
    );
    let status = fw.terminal("named");
    assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
    assert_eq!(pulls(&tc), 1.0, "one image whatever it is called");

    // Image.cached=false asks the registry again (the layers stay).
    let offer = fw.offers().remove(0);
    let mut fresh = image_task("fresh", &offer, probe, TEST_IMAGE);
    if let Some(image) = fresh
        .container
        .as_mut()
        .and_then(|c| c.mesos.as_mut())
        .and_then(|m| m.image.as_mut())
    {
        image.cached = Some(false);
    }
    launch(&fw, &offer, vec![fresh]);
    let status = fw.terminal("fresh");
    assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
    assert_eq!(pulls(&tc), 2.0, "an uncached image is pulled again");
    let now = std::fs::read_dir(&layers).expect("layers").count();
    assert_eq!(now, unpacked, "no layer was unpacked again");
    let rootfses = tc.cluster.agents[0].work_dir.join("provisioner/containers");
    let left: Vec<_> = std::fs::read_dir(&rootfses)
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    assert!(
        left.is_empty(),
        "root filesystems of ended containers remain: {left:?}"
    );
}

/// Also with root filesystems copied rather than overlaid.
#[test]
fn an_image_is_pulled_from_a_docker_save_directory() {
    let Some(env) = environment() else {
        return;
    };
    let store = tempfile::tempdir().expect("store dir");
    let save_dir = env.save_dir.display().to_string();
    let copy = ["--image-provisioner-backend", "copy"];
    let tc = image_agent_with("cpus:2;mem:512", &save_dir, store.path(), &copy);
    let mut fw = TestFramework::start(&tc.master(), framework_info("saved", false));
    let offer = fw.offers().remove(0);
    let probe = "test -x /bin/busybox && echo $PATH > $MESOS_SANDBOX/out";
    launch(
        &fw,
        &offer,
        vec![image_task("saved", &offer, probe, TEST_IMAGE)],
    );
    let status = fw.terminal("saved");
    assert_eq!(status.state, TaskState::TaskFinished as i32, "{status:?}");
    assert_eq!(
        sandbox_file(&tc, "saved", "out").trim(),
        "/bin",
        "the image's Env"
    );
    assert_eq!(pulls(&tc), 1.0);

    let offer = fw.offers().remove(0);
    launch(
        &fw,
        &offer,
        vec![image_task("again", &offer, probe, TEST_IMAGE)],
    );
    assert_eq!(fw.terminal("again").state, TaskState::TaskFinished as i32);
    assert_eq!(pulls(&tc), 1.0, "the cached image is not read again");
    assert!(temporaries(&store.path().join("staging")).is_empty());
    let log = std::fs::read_to_string(tc.root.path().join("agent-0.log")).unwrap_or_default();
    assert!(
        log.contains("backend=\"copy\""),
        "the copy backend is in use"
    );
}
