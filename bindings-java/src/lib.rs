//! `libmesos` for the JVM: every `native` method of the official
//! `org.apache.mesos` Java API (`MesosSchedulerDriver`,
//! `MesosExecutorDriver`, `MesosNativeLibrary`), implemented on the Meseta
//! client core, so JVM frameworks run unchanged with
//! `MESOS_NATIVE_JAVA_LIBRARY` pointing here.
//!
//! The glue only converts and forwards. Java hands over `org.apache.mesos.
//! Protos` objects; their `toByteArray()` bytes are the unversioned
//! (`mesos.*`, "v0") messages, which share field numbers and types with the
//! `mesos.v1` messages the core speaks (`SlaveID` is `AgentID` on the wire),
//! so they decode directly — the same evolve-by-reserialising Mesos does.
//! Callbacks go back the same way: the v1 message's bytes become a Java
//! object through the message class's `parseFrom`.
//!
//! Threads: the core delivers callbacks on its own thread, attached to the
//! JVM as a daemon; `join` blocks on the core's condition variable holding
//! no lock a callback needs. A Java exception thrown by a callback is
//! printed, cleared and reported through `error`; it never reaches Rust or
//! takes the JVM down.

mod executor;
mod jvm;
mod scheduler;
mod v1_mesos;

use jni::objects::{JClass, JObject, JValue};
use jni::JNIEnv;

/// The Mesos version the official jar checks (`MesosNativeLibrary.version()`):
/// [`meseta_proto::MESOS_VERSION`] as numbers. It is parsed at compile time,
/// so the two cannot disagree and a malformed version fails the build.
const MESOS_VERSION: (i64, i64, i64) = parse_version(meseta_proto::MESOS_VERSION);

/// `MAJOR.MINOR.PATCH` as three numbers; panics (in a constant: a compile
/// error) on anything else.
const fn parse_version(text: &str) -> (i64, i64, i64) {
    let bytes = text.as_bytes();
    let mut parts = [0i64; 3];
    let mut part = 0;
    let mut digits = 0;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'.' {
            assert!(
                digits > 0 && part < 2,
                "the version must be MAJOR.MINOR.PATCH"
            );
            part += 1;
            digits = 0;
        } else {
            assert!(
                byte.is_ascii_digit(),
                "the version must be MAJOR.MINOR.PATCH"
            );
            assert!(digits < 9, "a version number has too many digits");
            parts[part] = parts[part] * 10 + (byte - b'0') as i64;
            digits += 1;
        }
        i += 1;
    }
    assert!(
        part == 2 && digits > 0,
        "the version must be MAJOR.MINOR.PATCH"
    );
    (parts[0], parts[1], parts[2])
}

// `parse_version`'s tests, run by the compiler (this crate is a `cdylib`
// built with `test = false`, so unit tests would never run).
const _: () = {
    let (major, minor, patch) = parse_version("1.11.0");
    assert!(major == 1 && minor == 11 && patch == 0);
    let (major, minor, patch) = parse_version("10.0.123");
    assert!(major == 10 && minor == 0 && patch == 123);
};

/// `MesosNativeLibrary._version()`: the Mesos release this library stands in for.
#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosNativeLibrary__1version<'local>(
    mut env: JNIEnv<'local>,
    _class: JClass<'local>,
) -> JObject<'local> {
    let (major, minor, patch) = MESOS_VERSION;
    env.new_object(
        "org/apache/mesos/MesosNativeLibrary$Version",
        "(JJJ)V",
        &[
            JValue::Long(major),
            JValue::Long(minor),
            JValue::Long(patch),
        ],
    )
    .unwrap_or_else(|_| JObject::null())
}

/// Core logs go to stderr, filtered by `MESETA_LOG` (default `warn`).
fn init_logging() {
    meseta_core::logging::init_stderr("MESETA_LOG");
}
