//! Generates and compiles the C++ side of the cxx bridge (`src/lib.rs`).
//!
//! cxx-build also links the generated header into
//! `$CARGO_TARGET_DIR/cxxbridge/meseta-cpp/src/lib.rs.h` (with `rust/cxx.h`
//! beside it), where CMake compiles the rest of the C++ binding against it.
//! Those links are watched: if they are deleted, this script runs again.
use std::env;
use std::path::PathBuf;

fn main() {
    cxx_build::bridge("src/lib.rs")
        .include("include")
        .std("c++17")
        .flag_if_supported("-Wno-unused-parameter")
        .compile("meseta-cpp-bridge");
    for file in ["src/lib.rs", "include/meseta/bridge.hpp"] {
        println!("cargo:rerun-if-changed={file}");
    }
    if let Some(target) = target_dir() {
        // A link to cxx's own header: its date is the crate's, so it only
        // triggers a rerun when it is missing.
        let sentinel = target.join("cxxbridge/rust/cxx.h");
        println!("cargo:rerun-if-changed={}", sentinel.display());
    }
}

/// Cargo's target directory: the nearest ancestor of `OUT_DIR` that has the
/// `CACHEDIR.TAG` cargo writes there.
fn target_dir() -> Option<PathBuf> {
    let out = PathBuf::from(env::var_os("OUT_DIR")?);
    out.ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(PathBuf::from)
}
