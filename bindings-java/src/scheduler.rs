//! The natives of `org.apache.mesos.MesosSchedulerDriver`.
//!
//! `initialize` (called by the Java constructor) reads the driver's fields
//! and stores a boxed [`Native`] in its `__driver` field; `finalize` frees
//! it. Every other native reads `__driver` and forwards to the core.

use std::sync::Arc;

use jni::errors::Result;
use jni::objects::{JByteArray, JObject, JString};
use jni::sys::jboolean;
use jni::JNIEnv;
use meseta_core::scheduler::{Scheduler, SchedulerConfig};
use meseta_core::{v1, SchedulerDriver, Status};

use crate::jvm::{self, Arg, Callbacks, Classes, ARRAY_LIST, STATUS};

const FRAMEWORK_ID: &str = "org/apache/mesos/Protos$FrameworkID";
const MASTER_INFO: &str = "org/apache/mesos/Protos$MasterInfo";
const OFFER: &str = "org/apache/mesos/Protos$Offer";
const OFFER_ID: &str = "org/apache/mesos/Protos$OfferID";
const TASK_STATUS: &str = "org/apache/mesos/Protos$TaskStatus";
const EXECUTOR_ID: &str = "org/apache/mesos/Protos$ExecutorID";
const SLAVE_ID: &str = "org/apache/mesos/Protos$SlaveID";
const DRIVER_SIG: &str = "Lorg/apache/mesos/SchedulerDriver;";

/// What `__driver` points to.
struct Native {
    driver: SchedulerDriver,
    classes: Arc<Classes>,
}

impl jvm::NativeDriver for Native {
    fn classes(&self) -> &Classes {
        &self.classes
    }

    fn abort(&self) {
        self.driver.abort();
    }
}

/// Calls the Java `Scheduler` for every callback of the core.
struct JavaScheduler(Callbacks);

impl Scheduler for JavaScheduler {
    fn registered(&mut self, _: &SchedulerDriver, id: &v1::FrameworkId, master: &v1::MasterInfo) {
        let sig = format!("L{FRAMEWORK_ID};L{MASTER_INFO};");
        self.0.call("registered", &sig, |env, c| {
            Ok(vec![
                jvm::proto_arg(env, c, FRAMEWORK_ID, id)?,
                jvm::proto_arg(env, c, MASTER_INFO, master)?,
            ])
        });
    }

    fn reregistered(&mut self, _: &SchedulerDriver, master: &v1::MasterInfo) {
        let sig = format!("L{MASTER_INFO};");
        self.0.call("reregistered", &sig, |env, c| {
            Ok(vec![jvm::proto_arg(env, c, MASTER_INFO, master)?])
        });
    }

    fn disconnected(&mut self, _: &SchedulerDriver) {
        self.0.call("disconnected", "", |_, _| Ok(Vec::new()));
    }

    fn resource_offers(&mut self, _: &SchedulerDriver, offers: &[v1::Offer]) {
        self.0.call("resourceOffers", "Ljava/util/List;", |env, c| {
            let mut items = Vec::with_capacity(offers.len());
            for offer in offers {
                items.push(c.proto(env, OFFER, offer)?);
            }
            Ok(vec![Arg::Object(jvm::array_list(env, c, items)?)])
        });
    }

    fn offer_rescinded(&mut self, _: &SchedulerDriver, offer_id: &v1::OfferId) {
        let sig = format!("L{OFFER_ID};");
        self.0.call("offerRescinded", &sig, |env, c| {
            Ok(vec![jvm::proto_arg(env, c, OFFER_ID, offer_id)?])
        });
    }

    fn status_update(&mut self, _: &SchedulerDriver, status: &v1::TaskStatus) {
        let sig = format!("L{TASK_STATUS};");
        self.0.call("statusUpdate", &sig, |env, c| {
            Ok(vec![jvm::proto_arg(env, c, TASK_STATUS, status)?])
        });
    }

    fn framework_message(
        &mut self,
        _: &SchedulerDriver,
        executor_id: &v1::ExecutorId,
        agent_id: &v1::AgentId,
        data: &[u8],
    ) {
        let sig = format!("L{EXECUTOR_ID};L{SLAVE_ID};[B");
        self.0.call("frameworkMessage", &sig, |env, c| {
            Ok(vec![
                jvm::proto_arg(env, c, EXECUTOR_ID, executor_id)?,
                jvm::proto_arg(env, c, SLAVE_ID, agent_id)?,
                Arg::Object(env.byte_array_from_slice(data)?.into()),
            ])
        });
    }

    fn slave_lost(&mut self, _: &SchedulerDriver, agent_id: &v1::AgentId) {
        let sig = format!("L{SLAVE_ID};");
        self.0.call("slaveLost", &sig, |env, c| {
            Ok(vec![jvm::proto_arg(env, c, SLAVE_ID, agent_id)?])
        });
    }

    fn executor_lost(
        &mut self,
        _: &SchedulerDriver,
        executor_id: &v1::ExecutorId,
        agent_id: &v1::AgentId,
        status: i32,
    ) {
        let sig = format!("L{EXECUTOR_ID};L{SLAVE_ID};I");
        self.0.call("executorLost", &sig, |env, c| {
            Ok(vec![
                jvm::proto_arg(env, c, EXECUTOR_ID, executor_id)?,
                jvm::proto_arg(env, c, SLAVE_ID, agent_id)?,
                Arg::Int(status),
            ])
        });
    }

    fn error(&mut self, _: &SchedulerDriver, message: &str) {
        let message = message.to_string();
        self.0.call("error", "Ljava/lang/String;", move |env, _| {
            Ok(vec![Arg::Object(env.new_string(message)?.into())])
        });
    }
}

fn initialize(env: &mut JNIEnv, this: &JObject) -> Result<()> {
    crate::init_logging();
    let classes = Arc::new(Classes::load(
        env,
        &[
            STATUS,
            ARRAY_LIST,
            FRAMEWORK_ID,
            MASTER_INFO,
            OFFER,
            OFFER_ID,
            TASK_STATUS,
            EXECUTOR_ID,
            SLAVE_ID,
        ],
    )?);
    let scheduler = env
        .get_field(this, "scheduler", "Lorg/apache/mesos/Scheduler;")?
        .l()?;
    let framework = env
        .get_field(this, "framework", "Lorg/apache/mesos/Protos$FrameworkInfo;")?
        .l()?;
    let framework: v1::FrameworkInfo = jvm::decode(env, &framework, "FrameworkInfo")?;
    let master = env.get_field(this, "master", "Ljava/lang/String;")?.l()?;
    if master.is_null() {
        return Err(jvm::invalid(env, "the master address is null"));
    }
    let master: String = env.get_string(&JString::from(master))?.into();
    let implicit = env.get_field(this, "implicitAcknowledgements", "Z")?.z()?;
    let credential = env
        .get_field(this, "credential", "Lorg/apache/mesos/Protos$Credential;")?
        .l()?;
    let mut config = SchedulerConfig::new(master, framework);
    config.implicit_acknowledgements = implicit;
    config.suppressed_roles = suppressed_roles(env, this)?;
    if !credential.is_null() {
        let credential: v1::Credential = jvm::decode(env, &credential, "Credential")?;
        config.credential = Some((credential.principal, credential.secret.unwrap_or_default()));
    }
    let forwarder = JavaScheduler(Callbacks::new(
        env,
        this,
        scheduler,
        Arc::clone(&classes),
        DRIVER_SIG,
        "Scheduler",
    )?);
    let native = Native {
        driver: SchedulerDriver::new(forwarder, config),
        classes,
    };
    jvm::install(env, this, native)
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_initialize<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
) {
    if let Err(error) = initialize(&mut env, &this) {
        jvm::ensure_thrown(&mut env, &error);
    }
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_finalize<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
) {
    jvm::finalize::<Native>(&mut env, &this);
}

crate::no_arg_native!(Java_org_apache_mesos_MesosSchedulerDriver_start, |n| n
    .driver
    .start());
crate::no_arg_native!(Java_org_apache_mesos_MesosSchedulerDriver_abort, |n| n
    .driver
    .abort());
crate::no_arg_native!(Java_org_apache_mesos_MesosSchedulerDriver_join, |n| n
    .driver
    .join());
crate::no_arg_native!(
    Java_org_apache_mesos_MesosSchedulerDriver_reviveOffers__,
    |n| n.driver.revive_offers()
);
crate::no_arg_native!(
    Java_org_apache_mesos_MesosSchedulerDriver_suppressOffers__,
    |n| n.driver.suppress_offers()
);

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_stop<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    failover: jboolean,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |_, n| Ok(n.driver.stop(failover != 0)))
}

/// `reviveOffers(Collection<String> roles)`.
#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_reviveOffers__Ljava_util_Collection_2<
    'l,
>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    roles: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let roles = jvm::strings(env, &roles, "roles")?;
        Ok(n.driver.revive_offers_for(roles))
    })
}

/// `suppressOffers(Collection<String> roles)`.
#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_suppressOffers__Ljava_util_Collection_2<
    'l,
>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    roles: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let roles = jvm::strings(env, &roles, "roles")?;
        Ok(n.driver.suppress_offers_for(roles))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_requestResources<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    requests: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let requests: Vec<v1::Request> = jvm::decode_all(env, &requests, "Request")?;
        Ok(n.driver.request_resources(requests))
    })
}

/// `launchTasks(OfferID, Collection<TaskInfo>, Filters)`.
#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_launchTasks__Lorg_apache_mesos_Protos_00024OfferID_2Ljava_util_Collection_2Lorg_apache_mesos_Protos_00024Filters_2<
    'l,
>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    offer_id: JObject<'l>,
    tasks: JObject<'l>,
    filters: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let offer_id: v1::OfferId = jvm::decode(env, &offer_id, "OfferID")?;
        launch(env, n, vec![offer_id], &tasks, &filters)
    })
}

/// `launchTasks(Collection<OfferID>, Collection<TaskInfo>, Filters)`.
#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_launchTasks__Ljava_util_Collection_2Ljava_util_Collection_2Lorg_apache_mesos_Protos_00024Filters_2<
    'l,
>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    offer_ids: JObject<'l>,
    tasks: JObject<'l>,
    filters: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let offer_ids: Vec<v1::OfferId> = jvm::decode_all(env, &offer_ids, "OfferID")?;
        launch(env, n, offer_ids, &tasks, &filters)
    })
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_acceptOffers<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    offer_ids: JObject<'l>,
    operations: JObject<'l>,
    filters: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let offer_ids: Vec<v1::OfferId> = jvm::decode_all(env, &offer_ids, "OfferID")?;
        let operations: Vec<v1::offer::Operation> =
            jvm::decode_all(env, &operations, "Offer.Operation")?;
        let filters = optional(env, &filters)?;
        Ok(n.driver.accept_offers(&offer_ids, operations, filters))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_declineOffer<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    offer_id: JObject<'l>,
    filters: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let offer_id: v1::OfferId = jvm::decode(env, &offer_id, "OfferID")?;
        let filters = optional(env, &filters)?;
        Ok(n.driver.decline_offer(&offer_id, filters))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_killTask<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    task_id: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let task_id: v1::TaskId = jvm::decode(env, &task_id, "TaskID")?;
        Ok(n.driver.kill_task(&task_id))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_acknowledgeStatusUpdate<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    status: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let status: v1::TaskStatus = jvm::decode(env, &status, "TaskStatus")?;
        Ok(n.driver.acknowledge_status_update(&status))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_sendFrameworkMessage<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    executor_id: JObject<'l>,
    agent_id: JObject<'l>,
    data: JByteArray<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let executor_id: v1::ExecutorId = jvm::decode(env, &executor_id, "ExecutorID")?;
        let agent_id: v1::AgentId = jvm::decode(env, &agent_id, "SlaveID")?;
        let data = jvm::bytes_or_empty(env, &data)?;
        Ok(n.driver
            .send_framework_message(&executor_id, &agent_id, data))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_reconcileTasks<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    statuses: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let statuses: Vec<v1::TaskStatus> = jvm::decode_all(env, &statuses, "TaskStatus")?;
        Ok(n.driver.reconcile_tasks(&statuses))
    })
}

/// `updateFramework(FrameworkInfo, Collection<String> suppressedRoles)`.
#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_updateFramework<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    framework: JObject<'l>,
    suppressed_roles: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        update_framework(env, n, &framework, &suppressed_roles)
    })
}

/// `updateFramework(FrameworkInfo, Collection<String>, OfferConstraints)`.
/// The master does not filter offers by constraints yet: a non-empty set is
/// logged and the rest of the update applies.
#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosSchedulerDriver_updateFrameworkWithConstraints<
    'l,
>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    framework: JObject<'l>,
    suppressed_roles: JObject<'l>,
    constraints: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        if !constraints.is_null() && !jvm::bytes_of(env, &constraints)?.is_empty() {
            tracing::warn!(
                "updateFramework: offer constraints are not supported by Meseta yet; ignoring them"
            );
        }
        update_framework(env, n, &framework, &suppressed_roles)
    })
}

/// The two `launchTasks` natives, once their offer IDs are decoded.
fn launch(
    env: &mut JNIEnv,
    native: &Native,
    offer_ids: Vec<v1::OfferId>,
    tasks: &JObject,
    filters: &JObject,
) -> Result<Status> {
    let tasks: Vec<v1::TaskInfo> = jvm::decode_all(env, tasks, "TaskInfo")?;
    let filters = optional(env, filters)?;
    Ok(native.driver.launch_tasks(&offer_ids, tasks, filters))
}

/// The two `updateFramework` natives.
fn update_framework(
    env: &mut JNIEnv,
    native: &Native,
    framework: &JObject,
    suppressed_roles: &JObject,
) -> Result<Status> {
    let framework: v1::FrameworkInfo = jvm::decode(env, framework, "FrameworkInfo")?;
    let roles = jvm::strings(env, suppressed_roles, "suppressedRoles")?;
    Ok(native.driver.update_framework(framework, roles))
}

/// The `suppressedRoles` the driver was built with. The field is new in
/// the 1.11 jar; older jars (1.4.x) do not have it, and subscribe with none.
fn suppressed_roles(env: &mut JNIEnv, this: &JObject) -> Result<Vec<String>> {
    match env.get_field(this, "suppressedRoles", "Ljava/util/Collection;") {
        Ok(value) => {
            let roles = value.l()?;
            if roles.is_null() {
                Ok(Vec::new())
            } else {
                jvm::strings(env, &roles, "suppressedRoles")
            }
        }
        Err(jni::errors::Error::JavaException) => {
            let thrown = env.exception_occurred()?;
            env.exception_clear()?;
            if env.is_instance_of(&thrown, "java/lang/NoSuchFieldError")? {
                Ok(Vec::new())
            } else {
                env.throw(thrown)?;
                Err(jni::errors::Error::JavaException)
            }
        }
        Err(error) => Err(error),
    }
}

fn optional(env: &mut JNIEnv, filters: &JObject) -> Result<Option<v1::Filters>> {
    if filters.is_null() {
        return Ok(None);
    }
    jvm::decode(env, filters, "Filters").map(Some)
}
