// Asking an agent for something again and again (its containers' usage, a
// sandbox listing, a file's new output) without ever having two requests
// or two timers for the same thing, and without asking while nobody looks:
// in a hidden tab the next round waits until the tab is shown again.

export class Poller {
  /**
   * `task()` (async) does one round; `delay` is how many milliseconds to
   * wait before the next, or a function that tells (asked after each
   * round). Nothing runs before the first `now()`.
   */
  constructor(task, delay) {
    this.task = task;
    this.delay = typeof delay === 'function' ? delay : () => delay;
    this.timer = null;
    this.running = false;
    this.again = false;
    this.due = false;
    this.paused = false;
    this.stopped = false;
    this.onVisibility = () => {
      if (document.hidden) {
        if (this.timer !== null) {
          this.cancelTimer();
          this.due = true;
        }
      } else if (this.due) {
        this.now();
      }
    };
    document.addEventListener('visibilitychange', this.onVisibility);
  }

  /** A round now; if one is under way, another as soon as it ends. */
  async now() {
    this.cancelTimer();
    this.due = false;
    if (this.stopped || this.paused) return;
    if (document.hidden) {
      this.due = true;
      return;
    }
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      await this.task();
    } catch (e) {
      console.error(e); // a round that failed must not end the polling
    }
    this.running = false;
    if (this.again) {
      this.again = false;
      this.now();
    } else {
      this.later();
    }
  }

  /** The next round after the delay, or when a hidden tab is shown. */
  later() {
    if (this.stopped || this.paused) return;
    if (document.hidden) this.due = true;
    else this.timer = setTimeout(() => this.now(), this.delay());
  }

  /** Pauses (the operator unticked Follow), or resumes with a round now. */
  setPaused(paused) {
    this.paused = paused;
    if (paused) this.cancelTimer();
    else this.now();
  }

  /** For good: the page is left. A round under way ends unused. */
  stop() {
    this.stopped = true;
    this.cancelTimer();
    document.removeEventListener('visibilitychange', this.onVisibility);
  }

  cancelTimer() {
    clearTimeout(this.timer);
    this.timer = null;
  }
}
