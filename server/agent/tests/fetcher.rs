//! The fetcher on local files, on archives made here with `tar` and `zip`,
//! and over HTTP from a small server started by the test.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use meseta_agent::fetcher::Fetcher;
use meseta_proto::v1::command_info::Uri;

fn uri(value: &str) -> Uri {
    Uri {
        value: value.into(),
        ..Default::default()
    }
}

fn run(command: &str, cwd: &Path) {
    let status = std::process::Command::new("sh")
        .args(["-c", command])
        .current_dir(cwd)
        .status()
        .unwrap();
    assert!(status.success(), "{command}");
}

#[tokio::test]
async fn fetcher_copies_local_files_with_names_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("tool.sh");
    std::fs::write(&source, "#!/bin/sh\necho tool\n").unwrap();
    let sandbox = dir.path().join("sandbox");
    std::fs::create_dir(&sandbox).unwrap();
    let fetcher = Fetcher::new();

    let plain = fetcher
        .fetch(&uri(source.to_str().unwrap()), &sandbox)
        .await
        .unwrap();
    assert_eq!(plain, sandbox.join("tool.sh"));
    assert_eq!(
        std::fs::read_to_string(&plain).unwrap(),
        "#!/bin/sh\necho tool\n"
    );

    let renamed = Uri {
        value: format!("file://{}", source.display()),
        executable: Some(true),
        output_file: Some("bin/run".into()),
        ..Default::default()
    };
    let path = fetcher.fetch(&renamed, &sandbox).await.unwrap();
    assert_eq!(path, sandbox.join("bin/run"));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o755
    );

    let escape = Uri {
        value: source.display().to_string(),
        output_file: Some("../escaped".into()),
        ..Default::default()
    };
    assert!(fetcher.fetch(&escape, &sandbox).await.is_err());
    assert!(!dir.path().join("escaped").exists());
    let err = fetcher
        .fetch(&uri("/no/such/file"), &sandbox)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("/no/such/file"), "{err}");
    assert!(fetcher
        .fetch(&uri("relative/file"), &sandbox)
        .await
        .is_err());
}

#[tokio::test]
async fn fetcher_extracts_tarballs_and_zips_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    std::fs::create_dir_all(content.join("app")).unwrap();
    std::fs::write(content.join("app/run.sh"), "echo packed\n").unwrap();
    run(
        "tar -czf ../app.tar.gz app && tar -cJf ../app.tar.xz app && zip -qr ../app.zip app",
        &content,
    );
    let fetcher = Fetcher::new();

    for archive in ["app.tar.gz", "app.tar.xz", "app.zip"] {
        let sandbox = dir.path().join(format!("sandbox-{archive}"));
        std::fs::create_dir(&sandbox).unwrap();
        let source = dir.path().join(archive);
        fetcher
            .fetch_all(&[uri(source.to_str().unwrap())], &sandbox)
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(sandbox.join("app/run.sh")).unwrap(),
            "echo packed\n",
            "{archive}"
        );
        assert!(
            sandbox.join(archive).is_file(),
            "the archive itself is kept"
        );
        let log = std::fs::read_to_string(sandbox.join("stderr")).unwrap();
        assert!(log.contains("Fetched"), "{log}");
    }

    let sandbox = dir.path().join("sandbox-no-extract");
    std::fs::create_dir(&sandbox).unwrap();
    let kept = Uri {
        value: dir.path().join("app.tar.gz").display().to_string(),
        extract: Some(false),
        ..Default::default()
    };
    fetcher.fetch(&kept, &sandbox).await.unwrap();
    assert!(sandbox.join("app.tar.gz").is_file());
    assert!(!sandbox.join("app").exists());

    // A corrupt archive fails the fetch.
    std::fs::write(dir.path().join("bad.tgz"), b"not a tarball").unwrap();
    let err = fetcher
        .fetch(&uri(dir.path().join("bad.tgz").to_str().unwrap()), &sandbox)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("extract"), "{err}");
}

#[tokio::test]
async fn fetcher_downloads_over_http_following_redirects() {
    let app = axum::Router::new()
        .route("/files/plain.txt", get(|| async { "served over http\n" }))
        .route(
            "/redirect",
            get(|| async {
                (StatusCode::FOUND, [(header::LOCATION, "/files/plain.txt")]).into_response()
            }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new();
    let path = fetcher
        .fetch(
            &uri(&format!("http://{addr}/files/plain.txt?version=1")),
            dir.path(),
        )
        .await
        .unwrap();
    assert_eq!(path, dir.path().join("plain.txt"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "served over http\n"
    );

    let redirected = Uri {
        value: format!("http://{addr}/redirect"),
        output_file: Some("via-redirect.txt".into()),
        ..Default::default()
    };
    let path = fetcher.fetch(&redirected, dir.path()).await.unwrap();
    assert_eq!(std::fs::read_to_string(path).unwrap(), "served over http\n");

    let err = fetcher
        .fetch(&uri(&format!("http://{addr}/missing")), dir.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}
