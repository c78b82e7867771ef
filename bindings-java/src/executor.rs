//! The natives of `org.apache.mesos.MesosExecutorDriver`. The driver's
//! configuration comes from the `MESOS_*` environment the agent sets.

use std::sync::Arc;

use jni::errors::Result;
use jni::objects::{JByteArray, JObject};
use jni::JNIEnv;
use meseta_core::executor::{Executor, ExecutorConfig};
use meseta_core::{v1, ExecutorDriver};

use crate::jvm::{self, Arg, Callbacks, Classes, ARRAY_LIST, STATUS};

const EXECUTOR_INFO: &str = "org/apache/mesos/Protos$ExecutorInfo";
const FRAMEWORK_INFO: &str = "org/apache/mesos/Protos$FrameworkInfo";
const SLAVE_INFO: &str = "org/apache/mesos/Protos$SlaveInfo";
const TASK_INFO: &str = "org/apache/mesos/Protos$TaskInfo";
const TASK_ID: &str = "org/apache/mesos/Protos$TaskID";
const DRIVER_SIG: &str = "Lorg/apache/mesos/ExecutorDriver;";

struct Native {
    driver: ExecutorDriver,
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

struct JavaExecutor(Callbacks);

impl Executor for JavaExecutor {
    fn registered(
        &mut self,
        _: &ExecutorDriver,
        executor_info: &v1::ExecutorInfo,
        framework_info: &v1::FrameworkInfo,
        agent_info: &v1::AgentInfo,
    ) {
        let sig = format!("L{EXECUTOR_INFO};L{FRAMEWORK_INFO};L{SLAVE_INFO};");
        self.0.call("registered", &sig, |env, c| {
            Ok(vec![
                jvm::proto_arg(env, c, EXECUTOR_INFO, executor_info)?,
                jvm::proto_arg(env, c, FRAMEWORK_INFO, framework_info)?,
                jvm::proto_arg(env, c, SLAVE_INFO, agent_info)?,
            ])
        });
    }

    fn reregistered(&mut self, _: &ExecutorDriver, agent_info: &v1::AgentInfo) {
        let sig = format!("L{SLAVE_INFO};");
        self.0.call("reregistered", &sig, |env, c| {
            Ok(vec![jvm::proto_arg(env, c, SLAVE_INFO, agent_info)?])
        });
    }

    fn disconnected(&mut self, _: &ExecutorDriver) {
        self.0.call("disconnected", "", |_, _| Ok(Vec::new()));
    }

    fn launch_task(&mut self, _: &ExecutorDriver, task: &v1::TaskInfo) {
        let sig = format!("L{TASK_INFO};");
        self.0.call("launchTask", &sig, |env, c| {
            Ok(vec![jvm::proto_arg(env, c, TASK_INFO, task)?])
        });
    }

    fn kill_task(&mut self, _: &ExecutorDriver, task_id: &v1::TaskId) {
        let sig = format!("L{TASK_ID};");
        self.0.call("killTask", &sig, |env, c| {
            Ok(vec![jvm::proto_arg(env, c, TASK_ID, task_id)?])
        });
    }

    fn framework_message(&mut self, _: &ExecutorDriver, data: &[u8]) {
        self.0.call("frameworkMessage", "[B", |env, _| {
            Ok(vec![Arg::Object(env.byte_array_from_slice(data)?.into())])
        });
    }

    fn shutdown(&mut self, _: &ExecutorDriver) {
        self.0.call("shutdown", "", |_, _| Ok(Vec::new()));
    }

    fn error(&mut self, _: &ExecutorDriver, message: &str) {
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
            EXECUTOR_INFO,
            FRAMEWORK_INFO,
            SLAVE_INFO,
            TASK_INFO,
            TASK_ID,
        ],
    )?);
    let executor = env
        .get_field(this, "executor", "Lorg/apache/mesos/Executor;")?
        .l()?;
    let config = ExecutorConfig::from_env().map_err(|error| {
        let _ = env.throw_new(
            "java/lang/IllegalStateException",
            format!(
                "not started by a Mesos agent (the MESOS_* environment is incomplete): {error}"
            ),
        );
        jni::errors::Error::JavaException
    })?;
    let forwarder = JavaExecutor(Callbacks::new(
        env,
        this,
        executor,
        Arc::clone(&classes),
        DRIVER_SIG,
        "Executor",
    )?);
    let native = Native {
        driver: ExecutorDriver::with_config(forwarder, config),
        classes,
    };
    jvm::install(env, this, native)
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_initialize<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
) {
    if let Err(error) = initialize(&mut env, &this) {
        jvm::ensure_thrown(&mut env, &error);
    }
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_finalize<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
) {
    jvm::finalize::<Native>(&mut env, &this);
}

crate::no_arg_native!(Java_org_apache_mesos_MesosExecutorDriver_start, |n| n
    .driver
    .start());

crate::no_arg_native!(Java_org_apache_mesos_MesosExecutorDriver_stop, |n| n
    .driver
    .stop());

crate::no_arg_native!(Java_org_apache_mesos_MesosExecutorDriver_abort, |n| n
    .driver
    .abort());

crate::no_arg_native!(Java_org_apache_mesos_MesosExecutorDriver_join, |n| n
    .driver
    .join());

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_sendStatusUpdate<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    status: JObject<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let status: v1::TaskStatus = jvm::decode(env, &status, "TaskStatus")?;
        Ok(n.driver.send_status_update(status))
    })
}

#[no_mangle]
pub extern "system" fn Java_org_apache_mesos_MesosExecutorDriver_sendFrameworkMessage<'l>(
    mut env: JNIEnv<'l>,
    this: JObject<'l>,
    data: JByteArray<'l>,
) -> JObject<'l> {
    jvm::body::<Native>(&mut env, &this, |env, n| {
        let data = jvm::bytes_or_empty(env, &data)?;
        Ok(n.driver.send_framework_message(data))
    })
}
