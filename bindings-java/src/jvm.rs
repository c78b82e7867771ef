//! JNI plumbing shared by both drivers: protobuf objects in and out, Java
//! collections, the `Protos.Status` enum, exceptions.

use std::collections::HashMap;

use jni::errors::{Error, Result};
use std::sync::Arc;

use jni::objects::{
    GlobalRef, JByteArray, JClass, JObject, JObjectArray, JString, JValue, WeakRef,
};
use jni::{JNIEnv, JavaVM};
use meseta_core::Status;
use prost::Message;

/// Classes the callbacks need, looked up once on a Java thread: on the
/// core's own callback thread `FindClass` would only see the system class
/// loader, which in containers like Spark's is not the one that loaded
/// `org.apache.mesos`.
pub struct Classes {
    by_name: HashMap<&'static str, GlobalRef>,
}

impl Classes {
    /// Looks up `names` (JNI form, `org/apache/mesos/Protos$Offer`).
    pub fn load(env: &mut JNIEnv, names: &[&'static str]) -> Result<Self> {
        let mut by_name = HashMap::new();
        for name in names {
            let class = env.find_class(*name)?;
            by_name.insert(*name, env.new_global_ref(class)?);
        }
        Ok(Self { by_name })
    }

    /// A class looked up by [`Classes::load`].
    pub fn get(&self, name: &str) -> Result<&JClass<'static>> {
        self.by_name
            .get(name)
            .map(|global| <&JClass>::from(global.as_obj()))
            .ok_or_else(|| Error::MethodNotFound {
                name: name.to_string(),
                sig: "(class not preloaded)".into(),
            })
    }

    /// A Java protobuf object of class `name` holding `message`
    /// (`name.parseFrom(message.encode())`).
    pub fn proto<'l, M: Message>(
        &self,
        env: &mut JNIEnv<'l>,
        name: &str,
        message: &M,
    ) -> Result<JObject<'l>> {
        let bytes = env.byte_array_from_slice(&message.encode_to_vec())?;
        let signature = format!("([B)L{name};");
        env.call_static_method(
            self.get(name)?,
            "parseFrom",
            &signature,
            &[JValue::Object(&bytes)],
        )?
        .l()
    }

    /// `org.apache.mesos.Protos.Status` for a driver status.
    pub fn status<'l>(&self, env: &mut JNIEnv<'l>, status: Status) -> Result<JObject<'l>> {
        env.call_static_method(
            self.get(STATUS)?,
            "valueOf",
            format!("(I)L{STATUS};"),
            &[JValue::Int(status.as_mesos_code())],
        )?
        .l()
    }
}

pub const STATUS: &str = "org/apache/mesos/Protos$Status";
pub const ARRAY_LIST: &str = "java/util/ArrayList";

/// The wire bytes of a Java protobuf object (`toByteArray()`).
pub fn bytes_of(env: &mut JNIEnv, message: &JObject) -> Result<Vec<u8>> {
    let array = env.call_method(message, "toByteArray", "()[B", &[])?.l()?;
    env.convert_byte_array(JByteArray::from(array))
}

/// The contents of a Java `byte[]`; `null` is taken as empty.
pub fn bytes_or_empty(env: &mut JNIEnv, array: &JByteArray) -> Result<Vec<u8>> {
    if array.is_null() {
        Ok(Vec::new())
    } else {
        env.convert_byte_array(array)
    }
}

/// Decodes a Java protobuf object into the core's (wire-compatible) type.
pub fn decode<M: Message + Default>(env: &mut JNIEnv, message: &JObject, what: &str) -> Result<M> {
    if message.is_null() {
        return Err(invalid(env, &format!("{what} is null")));
    }
    let bytes = bytes_of(env, message)?;
    M::decode(bytes.as_slice()).map_err(|error| invalid(env, &format!("invalid {what}: {error}")))
}

/// Maps every element of a `java.util.Collection` (each element's local
/// reference is released once `each` has used it).
fn map_collection<T>(
    env: &mut JNIEnv,
    collection: &JObject,
    what: &str,
    mut each: impl FnMut(&mut JNIEnv, &JObject) -> Result<T>,
) -> Result<Vec<T>> {
    if collection.is_null() {
        return Err(invalid(env, &format!("the collection of {what} is null")));
    }
    let array = env
        .call_method(collection, "toArray", "()[Ljava/lang/Object;", &[])?
        .l()?;
    let array = JObjectArray::from(array);
    let length = env.get_array_length(&array)?;
    let mut out = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    for index in 0..length {
        let element = env.get_object_array_element(&array, index)?;
        out.push(each(env, &element)?);
        env.delete_local_ref(element)?;
    }
    Ok(out)
}

/// Decodes every element of a `java.util.Collection` of protobuf objects.
pub fn decode_all<M: Message + Default>(
    env: &mut JNIEnv,
    collection: &JObject,
    what: &str,
) -> Result<Vec<M>> {
    map_collection(env, collection, what, |env, element| {
        decode(env, element, what)
    })
}

/// The elements of a `java.util.Collection<String>`.
pub fn strings(env: &mut JNIEnv, collection: &JObject, what: &str) -> Result<Vec<String>> {
    map_collection(env, collection, what, |env, element| {
        if element.is_null() || !env.is_instance_of(element, "java/lang/String")? {
            return Err(invalid(
                env,
                &format!("{what} must hold only non-null Strings"),
            ));
        }
        let text: String = env.get_string(<&JString>::from(element))?.into();
        Ok(text)
    })
}

/// Throws `IllegalArgumentException(message)` and returns the error that
/// makes the native method return at once.
pub fn invalid(env: &mut JNIEnv, message: &str) -> Error {
    let _ = env.throw_new("java/lang/IllegalArgumentException", message);
    Error::JavaException
}

/// Makes sure a Java exception is pending for `error` (throwing a
/// `RuntimeException` if the failure was not Java's own).
pub fn ensure_thrown(env: &mut JNIEnv, error: &Error) {
    if !env.exception_check().unwrap_or(false) {
        let _ = env.throw_new(
            "java/lang/RuntimeException",
            format!("meseta native library: {error}"),
        );
    }
}

/// Runs a callback into Java on the current (native) thread: attaches it as
/// a daemon, gives the call its own local frame, and turns a Java exception
/// into a description (printed with its stack trace, then cleared).
pub fn call_java(
    vm: &JavaVM,
    call: impl for<'l> FnOnce(&mut JNIEnv<'l>) -> Result<()>,
) -> std::result::Result<(), String> {
    let mut env = vm
        .attach_current_thread_as_daemon()
        .map_err(|error| format!("cannot attach the callback thread to the JVM: {error}"))?;
    let outcome = env.with_local_frame(32, |env| call(env));
    match outcome {
        Ok(()) => Ok(()),
        Err(error) => {
            if env.exception_check().unwrap_or(false) {
                let throwable = env.exception_occurred().ok();
                let _ = env.exception_describe();
                let _ = env.exception_clear();
                let text = throwable
                    .and_then(|t| {
                        env.call_method(&t, "toString", "()Ljava/lang/String;", &[])
                            .ok()
                    })
                    .and_then(|v| v.l().ok())
                    .and_then(|s| env.get_string(&s.into()).ok().map(String::from))
                    .unwrap_or_else(|| error.to_string());
                Err(text)
            } else {
                Err(error.to_string())
            }
        }
    }
}

/// A `java.util.ArrayList` of the given objects.
pub fn array_list<'l>(
    env: &mut JNIEnv<'l>,
    classes: &Classes,
    items: Vec<JObject<'l>>,
) -> Result<JObject<'l>> {
    let list = env.new_object(
        classes.get(ARRAY_LIST)?,
        "(I)V",
        &[JValue::Int(i32::try_from(items.len()).unwrap_or(i32::MAX))],
    )?;
    for item in items {
        env.call_method(
            &list,
            "add",
            "(Ljava/lang/Object;)Z",
            &[JValue::Object(&item)],
        )?;
    }
    Ok(list)
}

/// One argument of a callback into Java.
pub enum Arg<'l> {
    /// An object (protobuf message, list, string, byte array).
    Object(JObject<'l>),
    /// An `int`.
    Int(i32),
}

/// A protobuf callback argument of Java class `class`.
pub fn proto_arg<'l, M: Message>(
    env: &mut JNIEnv<'l>,
    classes: &Classes,
    class: &str,
    message: &M,
) -> Result<Arg<'l>> {
    Ok(Arg::Object(classes.proto(env, class, message)?))
}

/// Defines a native method without arguments that forwards to the driver,
/// e.g. `no_arg_native!(Java_..._start, |n| n.driver.start());`.
#[macro_export]
macro_rules! no_arg_native {
    ($name:ident, |$native:ident| $call:expr) => {
        #[no_mangle]
        pub extern "system" fn $name<'l>(
            mut env: jni::JNIEnv<'l>,
            this: jni::objects::JObject<'l>,
        ) -> jni::objects::JObject<'l> {
            $crate::jvm::body::<Native>(&mut env, &this, |_, $native| Ok($call))
        }
    };
}

/// Calls a Java `Scheduler` or `Executor` for the core's callbacks.
pub struct Callbacks {
    pub vm: JavaVM,
    /// The Java driver, passed first to every callback; weak, so that the
    /// driver can still be collected (and finalized).
    pub driver: WeakRef,
    /// The user's `Scheduler` or `Executor`.
    pub target: GlobalRef,
    pub classes: Arc<Classes>,
    /// JNI type of the driver argument (`Lorg/apache/mesos/SchedulerDriver;`).
    pub driver_signature: &'static str,
    /// `Scheduler` or `Executor`, for messages.
    pub target_name: &'static str,
}

impl Callbacks {
    /// Callbacks for the Java driver `this` into its `target` (`Scheduler`
    /// or `Executor`).
    pub fn new(
        env: &mut JNIEnv,
        this: &JObject,
        target: JObject,
        classes: Arc<Classes>,
        driver_signature: &'static str,
        target_name: &'static str,
    ) -> Result<Self> {
        let Some(driver) = env.new_weak_ref(this)? else {
            return Err(invalid(env, "the driver object is null"));
        };
        Ok(Self {
            vm: env.get_java_vm()?,
            driver,
            target: env.new_global_ref(target)?,
            classes,
            driver_signature,
            target_name,
        })
    }

    /// Calls `target.<method>(driver, args...)` (`signature` lists the
    /// arguments after the driver). A Java exception is printed with its
    /// stack trace and reported through `error`; it never escapes.
    pub fn call(
        &self,
        method: &str,
        signature: &str,
        arguments: impl for<'l> FnOnce(&mut JNIEnv<'l>, &Classes) -> Result<Vec<Arg<'l>>>,
    ) {
        let outcome = call_java(&self.vm, |env| {
            let Some(driver) = self.driver.upgrade_local(env)? else {
                return Ok(());
            };
            let values = arguments(env, &self.classes)?;
            let mut args: Vec<JValue> = vec![JValue::Object(&driver)];
            for value in &values {
                args.push(match value {
                    Arg::Object(object) => JValue::Object(object),
                    Arg::Int(number) => JValue::Int(*number),
                });
            }
            let full = format!("({}{signature})V", self.driver_signature);
            env.call_method(self.target.as_obj(), method, &full, &args)?;
            Ok(())
        });
        if let Err(problem) = outcome {
            tracing::error!(callback = method, %problem, "a Java callback failed");
            if method != "error" {
                self.report(format!("{}.{method} threw {problem}", self.target_name));
            }
        }
    }

    /// Calls `target.error(driver, message)`; if that throws too, the
    /// exception is printed and dropped.
    fn report(&self, message: String) {
        let outcome = call_java(&self.vm, |env| {
            let Some(driver) = self.driver.upgrade_local(env)? else {
                return Ok(());
            };
            let message = env.new_string(message)?;
            let signature = format!("({}Ljava/lang/String;)V", self.driver_signature);
            env.call_method(
                self.target.as_obj(),
                "error",
                &signature,
                &[JValue::Object(&driver), JValue::Object(&message)],
            )?;
            Ok(())
        });
        if let Err(problem) = outcome {
            tracing::error!(%problem, "the Java error callback failed too");
        }
    }
}

/// The native half of a Java driver, boxed behind its `__driver` field.
pub trait NativeDriver: Sized {
    /// The Java field holding the pointer.
    const FIELD: &'static str = "__driver";
    /// The classes its callbacks and return values need.
    fn classes(&self) -> &Classes;
    /// Stops callbacks and calls at once (before the box is freed).
    fn abort(&self);
}

/// Stores `native` in the Java driver's `__driver` field.
pub fn install<T: NativeDriver>(env: &mut JNIEnv, this: &JObject, native: T) -> Result<()> {
    let pointer = Box::into_raw(Box::new(native)) as i64;
    env.set_field(this, T::FIELD, "J", JValue::Long(pointer))
}

/// The native half behind a Java driver.
pub fn native<'a, T: NativeDriver>(env: &mut JNIEnv, this: &JObject) -> Result<&'a T> {
    let pointer = env.get_field(this, T::FIELD, "J")?.j()?;
    if pointer == 0 {
        let _ = env.throw_new(
            "java/lang/IllegalStateException",
            "the driver was not initialized, or was finalized",
        );
        return Err(Error::JavaException);
    }
    // SAFETY: `__driver` only ever holds a pointer made by `install` from
    // `Box::into_raw` for this driver class's native type, reset to 0 by
    // `finalize` before the box is freed; the JVM finalizes an object only
    // once it is unreachable, so no method runs concurrently with it.
    Ok(unsafe { &*(pointer as *const T) })
}

/// `finalize()`: clears `__driver`, aborts and frees the native half.
pub fn finalize<T: NativeDriver>(env: &mut JNIEnv, this: &JObject) {
    let Ok(pointer) = env.get_field(this, T::FIELD, "J").and_then(|v| v.j()) else {
        return;
    };
    if pointer == 0 {
        return;
    }
    let _ = env.set_field(this, T::FIELD, "J", JValue::Long(0));
    // SAFETY: see `native`; the field was reset, so the box is freed once.
    let native = unsafe { Box::from_raw(pointer as *mut T) };
    native.abort();
}

/// Runs a native method: `f` gets the native half and returns a driver
/// status, which goes back as `Protos.Status`; on failure a Java exception
/// is left pending and null is returned.
pub fn body<'l, T: NativeDriver>(
    env: &mut JNIEnv<'l>,
    this: &JObject<'l>,
    f: impl FnOnce(&mut JNIEnv<'l>, &T) -> Result<meseta_core::Status>,
) -> JObject<'l> {
    let result = native::<T>(env, this).and_then(|native| {
        let status = f(env, native)?;
        native.classes().status(env, status)
    });
    result.unwrap_or_else(|error| {
        ensure_thrown(env, &error);
        JObject::null()
    })
}
