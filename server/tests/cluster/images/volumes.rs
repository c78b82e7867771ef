//! A persistent volume in a container from an image: it is mounted at its
//! container path under `/mnt/mesos/sandbox` inside the image's root (a
//! link to the host's directory would lead nowhere there), and what one
//! task writes there the next task reads.

use meseta::docker_env::TEST_IMAGE;
use meseta_proto::v1;

use super::{environment, image_agent, image_task};
use crate::common::*;
use crate::reservations::{create_volume_and_launch, in_role, offer_with_volume, volume_v1};

fn on_volume(id: &str, offer: &v1::Offer, command: &str) -> v1::TaskInfo {
    let mut task = image_task(id, offer, command, TEST_IMAGE);
    task.resources.push(volume_v1());
    task
}

#[test]
fn a_persistent_volume_is_mounted_in_an_images_root() {
    let Some(env) = environment() else {
        return;
    };
    let store = tempfile::tempdir().expect("store dir");
    let tc = image_agent(
        "cpus:2;mem:512;disk(ml):100",
        &format!("http://{}", env.registry),
        store.path(),
    );
    let mut ml = TestFramework::start(&tc.master(), in_role("trainer", "ml"));
    create_volume_and_launch(&mut ml, |offer| {
        on_volume(
            "writer",
            offer,
            "test -d $MESOS_SANDBOX/data && test ! -L $MESOS_SANDBOX/data && \
             echo kept > $MESOS_SANDBOX/data/file",
        )
    });
    let ended = ml.terminal("writer");
    assert_eq!(ended.state, v1::TaskState::TaskFinished as i32, "{ended:?}");

    let offer = offer_with_volume(&mut ml);
    let reader = on_volume("reader", &offer, "grep -q kept $MESOS_SANDBOX/data/file");
    ml.driver
        .launch_tasks(std::slice::from_ref(&offer.id), vec![reader], None);
    let ended = ml.terminal("reader");
    assert_eq!(
        ended.state,
        v1::TaskState::TaskFinished as i32,
        "the next container reads what the first wrote: {ended:?}"
    );
}
