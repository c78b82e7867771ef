//! Generates and compiles the C++ side of the cxx bridge (`src/lib.rs`).
//!
//! CMake compiles the rest of the C++ binding against the bridge's header:
//! when it sets `MESETA_CPP_HEADERS_OUT`, the generated `lib.rs.h` and cxx's
//! `rust/cxx.h` are copied there (as `meseta/bridge.rs.h` and `rust/cxx.h`).
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    cxx_build::bridge("src/lib.rs")
        .include("include")
        .std("c++17")
        .flag_if_supported("-Wno-unused-parameter")
        .compile("meseta-cpp-bridge");
    for file in ["src/lib.rs", "include/meseta/bridge.hpp"] {
        println!("cargo:rerun-if-changed={file}");
    }
    println!("cargo:rerun-if-env-changed=MESETA_CPP_HEADERS_OUT");
    if let Some(out) = env::var_os("MESETA_CPP_HEADERS_OUT") {
        let generated = PathBuf::from(env::var("OUT_DIR")?).join("cxxbridge/include");
        copy(
            &generated.join("meseta-cpp/src/lib.rs.h"),
            &Path::new(&out).join("meseta/bridge.rs.h"),
        )?;
        copy(
            &generated.join("rust/cxx.h"),
            &Path::new(&out).join("rust/cxx.h"),
        )?;
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::copy(from, to)
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))?;
    Ok(())
}
