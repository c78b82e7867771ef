//! The provisioner end to end on a `docker save` directory made here:
//! concurrent launches share one pull, the store serves later ones, and
//! root filesystems come and go with their containers.

use std::sync::Arc;

use meseta_proto::v1;

use super::digest::Digest;
use super::unpack::tests::tar_of;
use super::{Provisioner, Settings};

/// A `docker save` archive of one image `t/img:1` with one layer.
fn save_archive(dir: &std::path::Path) {
    let layer = tar_of(&[("bin/", None), ("bin/tool", Some(b"#!/bin/sh\n"))]);
    let config = format!(
        r#"{{"config":{{"Cmd":["/bin/tool"],"Env":["A=b"]}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        Digest::of(&layer)
    );
    let config_name = format!("{}.json", Digest::of(config.as_bytes()).hex());
    let manifest = format!(
        r#"[{{"Config":"{config_name}","RepoTags":["t/img:1"],"Layers":["l/layer.tar"]}}]"#
    );
    let mut builder = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("manifest.json", manifest.as_bytes()),
        (config_name.as_str(), config.as_bytes()),
        ("l/layer.tar", layer.as_slice()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();
        builder.append_data(&mut header, name, bytes).unwrap();
    }
    std::fs::create_dir_all(dir.join("t")).unwrap();
    std::fs::write(dir.join("t/img:1.tar"), builder.into_inner().unwrap()).unwrap();
}

fn image(name: &str) -> v1::Image {
    v1::Image {
        r#type: v1::image::Type::Docker as i32,
        docker: Some(v1::image::Docker {
            name: name.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn concurrent_launches_share_one_pull_and_later_ones_use_the_store() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED (loudly): unpacking layers needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let archives = dir.path().join("archives");
    save_archive(&archives);
    let provisioner = Arc::new(
        Provisioner::new(&Settings {
            registry: archives.display().to_string(),
            store_dir: dir.path().join("store"),
            containers_dir: dir.path().join("containers"),
            backend: Some("copy".into()),
        })
        .unwrap(),
    );
    let wanted = image("t/img:1");
    let (a, b) = tokio::join!(
        provisioner.provision("a", &wanted),
        provisioner.provision("b", &wanted)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let pulls = |p: &Provisioner| p.metrics()[0].1;
    assert_eq!(pulls(&provisioner), 1.0, "two launches, one pull");
    assert_eq!(a.config.cmd, ["/bin/tool"]);
    assert_eq!(
        std::fs::read(b.rootfs.join("bin/tool")).unwrap(),
        b"#!/bin/sh\n"
    );
    let c = provisioner.provision("c", &wanted).await.unwrap();
    assert_eq!(pulls(&provisioner), 1.0, "the store serves the third");
    assert_eq!(c.config.env, ["A=b"]);
    for key in ["a", "b", "c"] {
        provisioner.destroy(key).await;
        assert!(!dir.path().join("containers").join(key).exists());
    }
    let missing = provisioner
        .provision("d", &image("t/none:1"))
        .await
        .unwrap_err();
    assert!(
        missing.contains("'t/none:1'") && missing.contains("not found"),
        "{missing}"
    );
    let appc = v1::Image {
        r#type: v1::image::Type::Appc as i32,
        ..Default::default()
    };
    assert!(provisioner
        .provision("e", &appc)
        .await
        .unwrap_err()
        .contains("only Docker images"));
}
