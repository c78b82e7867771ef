//! Path safety and the shapes of `/files` answers.

use super::*;

struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    agent: PathBuf,
    sandbox: PathBuf,
    outside: PathBuf,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::canonicalize(dir.path()).unwrap();
    let root = base.join("work/slaves");
    let agent = root.join("A");
    let sandbox = agent.join("frameworks/F/executors/E/runs/C");
    std::fs::create_dir_all(&sandbox).unwrap();
    std::fs::write(sandbox.join("stdout"), b"hello world").unwrap();
    let outside = base.join("secret");
    std::fs::write(&outside, b"nope").unwrap();
    std::os::unix::fs::symlink(&outside, sandbox.join("link")).unwrap();
    Tree {
        _dir: dir,
        root,
        agent,
        sandbox,
        outside,
    }
}

#[test]
fn files_paths_inside_sandboxes_resolve() {
    let t = tree();
    let stdout = t.sandbox.join("stdout");
    assert_eq!(
        resolve(&t.root, Some(&t.agent), stdout.to_str().unwrap()),
        Ok(stdout.clone())
    );
    let virtual_path = "/frameworks/F/executors/E/runs/C/stdout";
    assert_eq!(resolve(&t.root, Some(&t.agent), virtual_path), Ok(stdout));
}

#[test]
fn files_traversal_and_outside_paths_are_refused() {
    let t = tree();
    let up = format!("{}/../../../../../secret", t.sandbox.display());
    assert!(matches!(
        resolve(&t.root, Some(&t.agent), &up),
        Err(PathError::Bad(_))
    ));
    let link = t.sandbox.join("link");
    assert!(matches!(
        resolve(&t.root, Some(&t.agent), link.to_str().unwrap()),
        Err(PathError::NotFound(_))
    ));
    assert!(matches!(
        resolve(&t.root, Some(&t.agent), t.outside.to_str().unwrap()),
        Err(PathError::NotFound(_))
    ));
    assert!(matches!(
        resolve(&t.root, Some(&t.agent), "/etc/passwd"),
        Err(PathError::NotFound(_))
    ));
    assert!(matches!(
        resolve(&t.root, Some(&t.agent), "relative/x"),
        Err(PathError::Bad(_))
    ));
    assert!(matches!(
        resolve(&t.root, Some(&t.agent), ""),
        Err(PathError::Bad(_))
    ));
    let missing = t.sandbox.join("missing");
    assert!(matches!(
        resolve(&t.root, Some(&t.agent), missing.to_str().unwrap()),
        Err(PathError::NotFound(_))
    ));
}
