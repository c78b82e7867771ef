//! The natives of `org.apache.mesos.v1.scheduler.V1Mesos`, the v1
//! scheduler library: `initialize` (called by the constructor) starts the
//! core's [`V1Mesos`] with the object's scheduler, master and credential
//! and keeps it behind the `__mesos` field; `send` and `reconnect` forward;
//! `finalize` stops it. The framework's `Scheduler` hears `connected`,
//! `disconnected` and each `received` event (as
//! `org.apache.mesos.v1.scheduler.Protos.Event`) on the library's callback
//! thread.

use std::sync::Arc;

use jni::errors::Result;
use jni::objects::{JObject, JString};
use jni::JNIEnv;
use meseta_core::scheduler::v1_mesos::{V1Callbacks, V1Mesos};
use meseta_core::{v1, ContentType};
use meseta_proto::scheduler::{Call, Event};

use crate::jvm::{self, Callbacks, Classes};

const EVENT: &str = "org/apache/mesos/v1/scheduler/Protos$Event";
const MESOS_SIG: &str = "Lorg/apache/mesos/v1/scheduler/Mesos;";

/// What `__mesos` points to.
struct Native {
    library: V1Mesos,
    classes: Arc<Classes>,
}

impl jvm::NativeDriver for Native {
    const FIELD: &'static str = "__mesos";

    fn classes(&self) -> &Classes {
        &self.classes
    }

    fn abort(&self) {}
}

/// Calls the Java v1 `Scheduler`.
struct JavaScheduler(Callbacks);

impl V1Callbacks for JavaScheduler {
    fn connected(&mut self) {
        self.0.call("connected", "", |_, _| Ok(Vec::new()));
    }

    fn disconnected(&mut self) {
        self.0.call("disconnected", "", |_, _| Ok(Vec::new()));
    }

    fn received(&mut self, events: Vec<Event>) {
        let sig = format!("L{EVENT};");
        for event in events {
            self.0.call("received", &sig, |env, c| {
                Ok(vec![jvm::proto_arg(env, c, EVENT, &event)?])
            });
        }
    }
}

fn initialize(env: &mut JNIEnv, this: &JObject) -> Result<()> {
    crate::init_logging();
    let classes = Arc::new(Classes::load(env, &[EVENT])?);
    let scheduler = env
        .get_field(
            this,
            "scheduler",
            "Lorg/apache/mesos/v1/scheduler/Scheduler;",
        )?
        .l()?;
    if scheduler.is_null() {
        return Err(jvm::invalid(env, "the scheduler is null"));
    }
    let master = env.get_field(this, "master", "Ljava/lang/String;")?.l()?;
    if master.is_null() {
        return Err(jvm::invalid(env, "the master address is null"));
    }
    let master: String = env.get_string(&JString::from(master))?.into();
    let credential = env
        .get_field(
            this,
            "credential",
            "Lorg/apache/mesos/v1/Protos$Credential;",
        )?
        .l()?;
    let credential = if credential.is_null() {
        None
    } else {
        let credential: v1::Credential = jvm::decode(env, &credential, "Credential")?;
        Some((credential.principal, credential.secret.unwrap_or_default()))
    };
    let forwarder = JavaScheduler(Callbacks::new(
        env,
        this,
        scheduler,
        Arc::clone(&classes),
        MESOS_SIG,
        "Scheduler",
    )?);
    let library = V1Mesos::start(
        &master,
        ContentType::Protobuf,
        credential,
        Box::new(forwarder),
    )
    .map_err(|e| jvm::invalid(env, &format!("cannot start the v1 scheduler library: {e}")))?;
    jvm::install(env, this, Native { library, classes })
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_v1_scheduler_V1Mesos_initialize<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
) {
    if let Err(error) = initialize(&mut env, &this) {
        jvm::ensure_thrown(&mut env, &error);
    }
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_v1_scheduler_V1Mesos_finalize<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
) {
    jvm::finalize::<Native>(&mut env, &this);
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_v1_scheduler_V1Mesos_send<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    call: JObject<'l>,
) {
    let sent = jvm::native::<Native>(&mut env, &this).and_then(|native| {
        let call: Call = jvm::decode(&mut env, &call, "Call")?;
        native.library.send(call);
        Ok(())
    });
    if let Err(error) = sent {
        jvm::ensure_thrown(&mut env, &error);
    }
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_v1_scheduler_V1Mesos_reconnect<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
) {
    match jvm::native::<Native>(&mut env, &this) {
        Ok(native) => native.library.reconnect(),
        Err(error) => jvm::ensure_thrown(&mut env, &error),
    }
}
