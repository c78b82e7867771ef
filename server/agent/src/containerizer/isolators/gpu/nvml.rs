//! NVML, NVIDIA's management library, behind a trait.
//!
//! The agent needs one thing from NVML: the GPUs of the machine, each with
//! its NVML index (what operators name in `--nvidia-gpu-devices` and what
//! `NVIDIA_VISIBLE_DEVICES` lists) and its minor number (its device node,
//! `/dev/nvidia<minor>`, character device 195:<minor>). The library is
//! opened at run time with `dlopen`, as Mesos does, so that one agent
//! binary runs on machines with and without the NVIDIA driver, and so that
//! tests can load a fake library (`tests/fake_nvml/fake_nvml.c`); the
//! [`Nvml`] trait lets the isolator's logic be tested without any library.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The library Mesos loads: found through the dynamic linker's search path.
pub const DEFAULT_LIBRARY: &str = "libnvidia-ml.so.1";

/// The character-device major number of NVIDIA GPUs.
pub(crate) const NVIDIA_MAJOR: u32 = 195;

/// One GPU as NVML reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Gpu {
    /// NVML's index.
    pub index: u32,
    /// The minor number of its device node.
    pub minor: u32,
}

/// Why NVML could not list the GPUs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NvmlError {
    /// `dlopen` failed (no NVIDIA driver, or a wrong `--nvml-library`).
    #[error("cannot load the NVML library {library} (is the NVIDIA driver installed? see --nvml-library): {reason}")]
    Load { library: String, reason: String },
    /// The library lacks a function the agent needs.
    #[error("the NVML library {library} has no function {symbol}: {reason}")]
    Symbol {
        library: String,
        symbol: String,
        reason: String,
    },
    /// An NVML function returned an error.
    #[error("{function} failed: {text} (NVML error {code})")]
    Call {
        function: &'static str,
        code: c_int,
        text: String,
    },
}

/// What the agent asks of NVML.
pub(crate) trait Nvml: Send + Sync + std::fmt::Debug {
    /// Every GPU of the machine, by NVML index.
    fn gpus(&self) -> Result<Vec<Gpu>, NvmlError>;
}

/// The real NVML, loaded from `path` each time it is asked (at agent
/// start only), and closed again.
#[derive(Debug, Clone)]
pub(crate) struct NvmlLibrary {
    path: PathBuf,
}

impl NvmlLibrary {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

impl Nvml for NvmlLibrary {
    fn gpus(&self) -> Result<Vec<Gpu>, NvmlError> {
        let library = Library::open(&self.path)?;
        let api = Api::resolve(&library)?;
        api.list()
    }
}

type Status = c_int;
type Device = *mut c_void;
type InitFn = unsafe extern "C" fn() -> Status;
type CountFn = unsafe extern "C" fn(*mut c_uint) -> Status;
type HandleFn = unsafe extern "C" fn(c_uint, *mut Device) -> Status;
type MinorFn = unsafe extern "C" fn(Device, *mut c_uint) -> Status;
type ErrorStringFn = unsafe extern "C" fn(Status) -> *const c_char;

const NVML_SUCCESS: Status = 0;

/// A `dlopen`ed library, closed when dropped.
struct Library {
    handle: *mut c_void,
    name: String,
}

/// The text of the last `dlopen`/`dlsym` error of this thread.
fn dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by the
    // dynamic linker, valid until the next dl* call on this thread; it is
    // copied before any such call.
    unsafe {
        let text = libc::dlerror();
        if text.is_null() {
            "unknown error".to_string()
        } else {
            CStr::from_ptr(text).to_string_lossy().into_owned()
        }
    }
}

impl Library {
    fn open(path: &Path) -> Result<Self, NvmlError> {
        let name = path.display().to_string();
        let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| NvmlError::Load {
            library: name.clone(),
            reason: "the path holds a NUL byte".into(),
        })?;
        // SAFETY: `c_path` is a valid NUL-terminated string that outlives
        // the call. Loading runs the library's initialisers, which is what
        // loading NVML means; RTLD_LOCAL keeps its symbols out of ours.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(NvmlError::Load {
                library: name,
                reason: dl_error(),
            });
        }
        Ok(Self { handle, name })
    }

    /// The address of `symbol`, or why there is none.
    fn symbol(&self, symbol: &CStr) -> Result<*mut c_void, String> {
        // SAFETY: `handle` is a live handle from dlopen (closed only on
        // drop) and `symbol` a NUL-terminated string; dlerror is called
        // first to clear a stale error, as dlsym's manual advises.
        let address = unsafe {
            libc::dlerror();
            libc::dlsym(self.handle, symbol.as_ptr())
        };
        if address.is_null() {
            Err(dl_error())
        } else {
            Ok(address)
        }
    }

    /// The first of `symbols` the library has.
    fn first_of(&self, symbols: &[&CStr]) -> Result<*mut c_void, NvmlError> {
        let mut reason = String::new();
        for symbol in symbols {
            match self.symbol(symbol) {
                Ok(address) => return Ok(address),
                Err(why) => reason = why,
            }
        }
        let names: Vec<String> = symbols
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        Err(NvmlError::Symbol {
            library: self.name.clone(),
            symbol: names.join(" or "),
            reason,
        })
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        // SAFETY: `handle` came from a successful dlopen and is closed once;
        // no function pointer taken from it outlives the `Api` borrowing
        // this library.
        unsafe {
            libc::dlclose(self.handle);
        }
    }
}

/// NVML's functions, resolved from a [`Library`] they must not outlive.
struct Api<'a> {
    _library: &'a Library,
    init: InitFn,
    shutdown: InitFn,
    count: CountFn,
    handle: HandleFn,
    minor: MinorFn,
    error_string: Option<ErrorStringFn>,
}

impl<'a> Api<'a> {
    fn resolve(library: &'a Library) -> Result<Self, NvmlError> {
        let init = library.first_of(&[c"nvmlInit_v2"])?;
        let shutdown = library.first_of(&[c"nvmlShutdown"])?;
        let count = library.first_of(&[c"nvmlDeviceGetCount_v2", c"nvmlDeviceGetCount"])?;
        let handle = library.first_of(&[
            c"nvmlDeviceGetHandleByIndex_v2",
            c"nvmlDeviceGetHandleByIndex",
        ])?;
        let minor = library.first_of(&[c"nvmlDeviceGetMinorNumber"])?;
        let error_string = library.symbol(c"nvmlErrorString").ok();
        // SAFETY: each address is the named NVML function, whose C
        // signature (nvml.h) is the one of the pointer type it becomes:
        // nvmlReturn_t (an int-sized enum) returned, `unsigned int *` and
        // `nvmlDevice_t *` out-parameters, `nvmlDevice_t` an opaque pointer.
        unsafe {
            Ok(Self {
                _library: library,
                init: std::mem::transmute::<*mut c_void, InitFn>(init),
                shutdown: std::mem::transmute::<*mut c_void, InitFn>(shutdown),
                count: std::mem::transmute::<*mut c_void, CountFn>(count),
                handle: std::mem::transmute::<*mut c_void, HandleFn>(handle),
                minor: std::mem::transmute::<*mut c_void, MinorFn>(minor),
                error_string: error_string
                    .map(|address| std::mem::transmute::<*mut c_void, ErrorStringFn>(address)),
            })
        }
    }

    /// `Ok` for NVML_SUCCESS, else the error with NVML's own text.
    fn check(&self, function: &'static str, code: Status) -> Result<(), NvmlError> {
        if code == NVML_SUCCESS {
            return Ok(());
        }
        let text = self
            .error_string
            .and_then(|error_string| {
                // SAFETY: nvmlErrorString takes any status and returns NULL
                // or a static NUL-terminated string, copied at once.
                unsafe {
                    let text = error_string(code);
                    (!text.is_null()).then(|| CStr::from_ptr(text).to_string_lossy().into_owned())
                }
            })
            .unwrap_or_else(|| "unknown error".to_string());
        Err(NvmlError::Call {
            function,
            code,
            text,
        })
    }

    /// Initialises NVML, lists the GPUs, shuts NVML down.
    fn list(&self) -> Result<Vec<Gpu>, NvmlError> {
        // SAFETY: nvmlInit_v2 takes no arguments; calling it before any
        // other NVML function is its contract.
        self.check("nvmlInit_v2", unsafe { (self.init)() })?;
        let listed = self.devices();
        // SAFETY: NVML was initialised above; nvmlShutdown takes no arguments.
        let shutdown = unsafe { (self.shutdown)() };
        if let Err(error) = self.check("nvmlShutdown", shutdown) {
            tracing::warn!(%error, "NVML did not shut down cleanly");
        }
        listed
    }

    fn devices(&self) -> Result<Vec<Gpu>, NvmlError> {
        let mut count: c_uint = 0;
        // SAFETY: NVML is initialised; `count` is a valid out-pointer for
        // the duration of the call.
        self.check("nvmlDeviceGetCount", unsafe { (self.count)(&mut count) })?;
        let mut gpus = Vec::with_capacity(count as usize);
        for index in 0..count {
            let mut device: Device = std::ptr::null_mut();
            // SAFETY: `index` is below the count NVML reported; `device` is
            // a valid out-pointer for the call.
            let code = unsafe { (self.handle)(index, &mut device) };
            self.check("nvmlDeviceGetHandleByIndex", code)?;
            let mut minor: c_uint = 0;
            // SAFETY: `device` is the handle NVML just returned (valid
            // until nvmlShutdown); `minor` is a valid out-pointer.
            let code = unsafe { (self.minor)(device, &mut minor) };
            self.check("nvmlDeviceGetMinorNumber", code)?;
            gpus.push(Gpu { index, minor });
        }
        Ok(gpus)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::FakeNvml;
    use super::*;

    #[test]
    fn the_fake_library_reports_two_gpus_through_dlopen() {
        let Some(fake) = FakeNvml::build(&[]) else {
            return;
        };
        let gpus = NvmlLibrary::new(&fake.path).gpus().unwrap();
        assert_eq!(
            gpus,
            vec![Gpu { index: 0, minor: 0 }, Gpu { index: 1, minor: 1 }]
        );
        // Loading, listing and closing again works (the agent lists twice).
        assert_eq!(NvmlLibrary::new(&fake.path).gpus().unwrap().len(), 2);
    }

    #[test]
    fn minors_come_from_nvml_not_from_the_index() {
        let Some(fake) = FakeNvml::build(&["-DFAKE_NVML_COUNT=3", "-DFAKE_NVML_MINOR_OFFSET=4"])
        else {
            return;
        };
        let minors: Vec<u32> = NvmlLibrary::new(&fake.path)
            .gpus()
            .unwrap()
            .iter()
            .map(|g| g.minor)
            .collect();
        assert_eq!(minors, vec![4, 5, 6]);
    }

    #[test]
    fn a_missing_library_says_which_and_why() {
        let error = NvmlLibrary::new("/nonexistent/libnvidia-ml.so.1")
            .gpus()
            .unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, NvmlError::Load { .. }), "{error:?}");
        assert!(text.contains("/nonexistent/libnvidia-ml.so.1"), "{text}");
        assert!(text.contains("No such file"), "{text}");
    }

    #[test]
    fn a_missing_function_is_named() {
        let Some(fake) = FakeNvml::build(&["-DFAKE_NVML_NO_MINOR"]) else {
            return;
        };
        let error = NvmlLibrary::new(&fake.path).gpus().unwrap_err();
        match &error {
            NvmlError::Symbol { symbol, .. } => assert_eq!(symbol, "nvmlDeviceGetMinorNumber"),
            other => panic!("expected a missing symbol, got {other:?}"),
        }
        assert!(error
            .to_string()
            .contains("has no function nvmlDeviceGetMinorNumber"));
    }

    #[test]
    fn an_nvml_error_carries_nvmls_text() {
        let Some(fake) = FakeNvml::build(&["-DFAKE_NVML_INIT_FAILS"]) else {
            return;
        };
        let error = NvmlLibrary::new(&fake.path).gpus().unwrap_err();
        assert_eq!(
            error.to_string(),
            "nvmlInit_v2 failed: Driver Not Loaded (NVML error 9)"
        );
    }
}
