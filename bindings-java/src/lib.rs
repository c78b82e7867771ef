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

use jni::objects::{JClass, JObject, JValue};
use jni::JNIEnv;

/// The Mesos version the official jar checks (`MesosNativeLibrary.version()`).
const MESOS_VERSION: (i64, i64, i64) = (1, 11, 0);

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
