//! `mesos::v1::scheduler::Mesos`'s Rust half: the core's [`V1Mesos`] behind
//! the bridge, with callbacks forwarded to the C++ [`V1SchedulerSink`].

use std::sync::Mutex;

use cxx::UniquePtr;
use meseta_core::scheduler::v1_mesos::{V1Callbacks, V1Mesos};
use meseta_core::v1;
use meseta_core::ContentType;
use meseta_proto::scheduler::{Call, Event};
use prost::Message;

use crate::ffi::V1SchedulerSink;
use crate::{decode, decode_optional};

/// The library a `mesos::v1::scheduler::Mesos` owns; `close` drops it.
pub struct RustV1Mesos {
    library: Mutex<Option<V1Mesos>>,
}

/// Forwards the library's callbacks to C++ as serialized messages.
struct CppV1Scheduler(UniquePtr<V1SchedulerSink>);

impl V1Callbacks for CppV1Scheduler {
    fn connected(&mut self) {
        if let Some(sink) = self.0.as_ref() {
            sink.connected();
        }
    }

    fn disconnected(&mut self) {
        if let Some(sink) = self.0.as_ref() {
            sink.disconnected();
        }
    }

    fn received(&mut self, events: Vec<Event>) {
        if let Some(sink) = self.0.as_ref() {
            let encoded: Vec<Vec<u8>> = events.iter().map(Message::encode_to_vec).collect();
            let views: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
            sink.received(&views);
        }
    }
}

pub fn new_v1_mesos(
    sink: UniquePtr<V1SchedulerSink>,
    master: &str,
    json: bool,
    credential: &[u8],
) -> Result<Box<RustV1Mesos>, String> {
    crate::init_logging();
    let credential = decode_optional::<v1::Credential>(credential, "mesos.v1.Credential")?
        .map(|c| (c.principal, c.secret.unwrap_or_default()));
    let content_type = if json {
        ContentType::Json
    } else {
        ContentType::Protobuf
    };
    let library = V1Mesos::start(
        master,
        content_type,
        credential,
        Box::new(CppV1Scheduler(sink)),
    )
    .map_err(|e| e.to_string())?;
    Ok(Box::new(RustV1Mesos {
        library: Mutex::new(Some(library)),
    }))
}

impl RustV1Mesos {
    pub fn send(&self, call: &[u8]) -> Result<(), String> {
        let call: Call = decode(call, "mesos.v1.scheduler.Call")?;
        if let Some(library) = self.lock().as_ref() {
            library.send(call);
        }
        Ok(())
    }

    pub fn reconnect(&self) {
        if let Some(library) = self.lock().as_ref() {
            library.reconnect();
        }
    }

    pub fn close(&self) {
        // Dropped outside the lock: a callback that sends meanwhile must
        // not wait for the drop, which waits for the callback.
        let library = self.lock().take();
        drop(library);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<V1Mesos>> {
        self.library
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
