//! Generates and compiles the C++ side of the cxx bridge (`src/lib.rs`).
//!
//! cxx-build also links the generated header into
//! `$CARGO_TARGET_DIR/cxxbridge/meseta-cpp/src/lib.rs.h` (with `rust/cxx.h`
//! beside it), where CMake compiles the rest of the C++ binding against it.
fn main() {
    cxx_build::bridge("src/lib.rs")
        .include("include")
        .std("c++17")
        .flag_if_supported("-Wno-unused-parameter")
        .compile("meseta-cpp-bridge");
    for file in ["src/lib.rs", "include/meseta/bridge.hpp"] {
        println!("cargo:rerun-if-changed={file}");
    }
}
