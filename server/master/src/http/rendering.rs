//! The thread that sorts snapshots and renders the legacy endpoints'
//! documents, at a lower CPU priority than the rest of the master.
//!
//! Rendering `/master/state` for a big cluster takes a core for a while;
//! on Tokio's blocking pool, ten clients fetching it in a loop got ten
//! threads at the scheduler loop's priority, and on a small machine the
//! loop then had a sliver of the CPU: offers slowed to a quarter. Here,
//! renders run one after another on one thread under Linux's `SCHED_IDLE`
//! policy (nice 19 where that is refused): any runnable thread of the
//! master, of the framework or agents beside it, comes first and takes
//! the core back at once; renders use the time left. At 10,000 agents
//! with 100,000 tasks, offers keep 0.85 of their rate while ten clients
//! read (nice 19: 0.66-0.78; the blocking pool: 0.23), and the readers
//! still get about eight 41 MB documents a second.
//!
//! The thread counts the CPU time its jobs take ([`Renderer::spent`]), so
//! that the batches can keep reading the state to a share of the master's
//! time.
//!
//! Idle priority must not mean never: on a machine kept busy by others, a
//! render that has taken [`BOOST_AFTER`] is lifted to normal priority until
//! it ends, so that an operator still gets an answer from a loaded master.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// How long a render may wait at idle priority before it gets normal.
const BOOST_AFTER: Duration = Duration::from_secs(2);

/// What the watchdog sees of the rendering thread.
struct Progress {
    origin: Instant,
    thread: AtomicI32,
    /// When the current job began (ms since `origin`, plus one); 0: idle.
    busy_since: AtomicU64,
    boosted: AtomicBool,
    stopped: AtomicBool,
    /// CPU time the jobs have taken, in nanoseconds.
    spent: AtomicU64,
}

impl Progress {
    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn begin(&self) {
        self.busy_since.store(self.now() + 1, Ordering::SeqCst);
    }

    fn end(&self) {
        self.busy_since.store(0, Ordering::SeqCst);
        if self.boosted.swap(false, Ordering::SeqCst) {
            lower_priority();
        }
    }

    /// Lifts a job that has run for `after` to normal priority.
    fn watch(&self, after: Duration) {
        let after = u64::try_from(after.as_millis()).unwrap_or(u64::MAX);
        while !self.stopped.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis((after / 4).max(1)));
            let since = self.busy_since.load(Ordering::SeqCst);
            if since == 0 || self.now() + 1 < since + after || self.boosted.load(Ordering::SeqCst) {
                continue;
            }
            let normal = libc::sched_param { sched_priority: 0 };
            let thread = self.thread.load(Ordering::SeqCst);
            // SAFETY: a thread ID of this process and a live sched_param.
            if unsafe { libc::sched_setscheduler(thread, libc::SCHED_OTHER, &normal) } == 0 {
                self.boosted.store(true, Ordering::SeqCst);
                tracing::debug!(
                    "a render waited long at idle priority; it goes on at normal priority"
                );
            }
        }
    }
}

/// The way to the rendering thread; cheap to clone.
#[derive(Clone)]
pub(crate) struct Renderer {
    jobs: mpsc::Sender<Job>,
    progress: Arc<Progress>,
}

impl Renderer {
    /// Starts the thread (and its watchdog); they end when every
    /// `Renderer` is dropped.
    pub fn start() -> std::io::Result<Self> {
        Self::start_boosting_after(BOOST_AFTER)
    }

    fn start_boosting_after(after: Duration) -> std::io::Result<Self> {
        let (jobs, queued) = mpsc::channel::<Job>();
        let progress = Arc::new(Progress {
            origin: Instant::now(),
            thread: AtomicI32::new(0),
            busy_since: AtomicU64::new(0),
            boosted: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            spent: AtomicU64::new(0),
        });
        let shared = Arc::clone(&progress);
        let watched = Arc::clone(&progress);
        std::thread::Builder::new()
            .name("meseta-render".into())
            .spawn(move || {
                // SAFETY: gettid takes nothing and cannot fail.
                shared
                    .thread
                    .store(unsafe { libc::gettid() }, Ordering::SeqCst);
                lower_priority();
                for job in queued {
                    shared.begin();
                    let began = thread_cpu_time();
                    job();
                    let spent = thread_cpu_time().saturating_sub(began);
                    shared.spent.fetch_add(
                        u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX),
                        Ordering::SeqCst,
                    );
                    shared.end();
                }
                shared.stopped.store(true, Ordering::SeqCst);
            })?;
        std::thread::Builder::new()
            .name("meseta-render-watch".into())
            .spawn(move || watched.watch(after))?;
        Ok(Self { jobs, progress })
    }

    /// The CPU time every job so far has taken.
    pub fn spent(&self) -> Duration {
        Duration::from_nanos(self.progress.spent.load(Ordering::SeqCst))
    }

    /// Runs `work` on the rendering thread; `None` if the thread is gone
    /// or `work` panicked.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            match outcome {
                Ok(value) => {
                    let _ = done.send(value);
                }
                Err(_) => tracing::error!("rendering an endpoint's document panicked"),
            }
        });
        self.jobs.send(job).ok()?;
        result.await.ok()
    }
}

/// The CPU time the calling thread has taken.
pub(crate) fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock ID and a pointer to a live timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

fn lower_priority() {
    let idle = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler and setpriority take plain integers and a
    // pointer to a live sched_param; 0 (or PRIO_PROCESS with a thread ID)
    // means this thread.
    let refused = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &idle) } != 0
        && unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19) } != 0;
    if refused {
        tracing::warn!(
            error = %std::io::Error::last_os_error(),
            "the rendering thread keeps the master's priority: big /master/state documents will take CPU from scheduling"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_in_order_on_an_idle_priority_thread() {
        let renderer = Renderer::start().expect("a thread");
        // SAFETY: plain integers in and out; 0 is the calling thread.
        let policy = renderer
            .run(|| unsafe { libc::sched_getscheduler(0) })
            .await
            .expect("ran");
        assert_eq!(policy, libc::SCHED_IDLE);
        assert_eq!(renderer.run(|| 1).await, Some(1));
        assert_eq!(
            renderer.run(|| -> i32 { panic!("a bad render") }).await,
            None
        );
        assert_eq!(
            renderer.run(|| 2).await,
            Some(2),
            "the thread survives a panic"
        );
    }

    #[tokio::test]
    async fn a_render_that_waits_long_goes_on_at_normal_priority() {
        let renderer =
            Renderer::start_boosting_after(Duration::from_millis(200)).expect("a thread");
        // SAFETY (both jobs): plain integers in and out; 0 is this thread.
        let lifted = renderer
            .run(|| {
                let deadline = Instant::now() + Duration::from_secs(10);
                while unsafe { libc::sched_getscheduler(0) } == libc::SCHED_IDLE
                    && Instant::now() < deadline
                {
                    std::hint::spin_loop();
                }
                unsafe { libc::sched_getscheduler(0) }
            })
            .await;
        assert_eq!(lifted, Some(libc::SCHED_OTHER));
        let next = renderer
            .run(|| unsafe { libc::sched_getscheduler(0) })
            .await;
        assert_eq!(
            next,
            Some(libc::SCHED_IDLE),
            "back to idle for the next render"
        );
    }
}
