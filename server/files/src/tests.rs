//! The shapes of the answers, on a real directory.

use serde_json::json;

use super::*;

fn tree() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::write(sandbox.join("stdout"), b"hello world").unwrap();
    (dir, sandbox)
}

#[test]
fn files_browse_lists_entries_in_mesos_shape() {
    let (_dir, sandbox) = tree();
    let requested = sandbox.display().to_string();
    let listing = browse_listing(&sandbox, &requested).unwrap();
    let entries = listing.as_array().unwrap();
    let stdout = entries
        .iter()
        .find(|e| e["path"] == format!("{requested}/stdout"))
        .unwrap();
    assert_eq!(stdout["size"], 11);
    assert_eq!(stdout["nlink"], 1);
    assert!(stdout["mode"].as_str().unwrap().starts_with("-rw"));
    assert!(stdout["mtime"].as_i64().unwrap() > 0);
    assert!(stdout["uid"].is_string() && stdout["gid"].is_string());
}

#[tokio::test]
async fn files_read_pages_and_reports_size() {
    let (_dir, sandbox) = tree();
    let stdout = sandbox.join("stdout");
    assert_eq!(
        read_chunk(&stdout, Some(-1), None).await.unwrap(),
        json!({"data": "", "offset": 11})
    );
    assert_eq!(
        read_chunk(&stdout, Some(6), Some(3)).await.unwrap(),
        json!({"data": "wor", "offset": 6})
    );
    assert_eq!(
        read_chunk(&stdout, None, None).await.unwrap(),
        json!({"data": "hello world", "offset": 0})
    );
    assert_eq!(
        read_chunk(&stdout, Some(50), None).await.unwrap(),
        json!({"data": "", "offset": 50})
    );
    assert!(matches!(
        read_chunk(&stdout, Some(-5), None).await,
        Err(PathError::Bad(_))
    ));
    assert!(matches!(
        read_chunk(&sandbox, Some(0), None).await,
        Err(PathError::Bad(_))
    ));
}

#[test]
fn list_and_read_files_answer_the_operator_api() {
    let (_dir, sandbox) = tree();
    let listed = list_files(&sandbox, "/virtual").unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].path, "/virtual/stdout");
    assert_eq!(listed[0].size, Some(11));
    let stdout = sandbox.join("stdout");
    let one = list_files(&stdout, "/virtual/stdout").unwrap();
    assert_eq!(one[0].path, "/virtual/stdout");
    assert_eq!(
        read_file(&stdout, "x", 6, Some(3)).unwrap(),
        (11, b"wor".to_vec())
    );
    assert_eq!(read_file(&stdout, "x", 50, None).unwrap(), (11, Vec::new()));
    assert!(matches!(
        read_file(&sandbox, "x", 0, None),
        Err(PathError::Bad(_))
    ));
    assert!(matches!(
        list_files(&sandbox.join("missing"), "/m"),
        Err(PathError::NotFound(_))
    ));
}
