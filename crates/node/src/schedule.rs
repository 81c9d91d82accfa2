//! The nightly schedule: a sync inside a configurable window, at a random
//! moment so hundreds of schools do not arrive at the same second, retried
//! with exponential backoff, and on demand.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{Days, Local, NaiveDateTime, NaiveTime, TimeDelta};
use rand::{Rng, RngExt};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::{Agent, NodeError, SyncReport};

/// The nightly window, in local time. It may wrap past midnight (23:00–02:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Earliest start.
    pub window_start: NaiveTime,
    /// Latest start of a first attempt; retries stop here too.
    pub window_end: NaiveTime,
}

impl Default for Schedule {
    /// 01:00 to 05:00.
    fn default() -> Self {
        Schedule {
            window_start: NaiveTime::from_hms_opt(1, 0, 0).unwrap_or(NaiveTime::MIN),
            window_end: NaiveTime::from_hms_opt(5, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }
}

impl Schedule {
    /// Length of the window.
    pub fn length(&self) -> TimeDelta {
        let d = self.window_end - self.window_start;
        if d <= TimeDelta::zero() { d + TimeDelta::days(1) } else { d }
    }

    /// The first window that opens strictly after `now`: its start and end.
    pub fn next_window(&self, now: NaiveDateTime) -> (NaiveDateTime, NaiveDateTime) {
        let today = now.date().and_time(self.window_start);
        let start = if today > now {
            today
        } else {
            now.date().checked_add_days(Days::new(1)).map(|d| d.and_time(self.window_start)).unwrap_or(today)
        };
        (start, start + self.length())
    }

    /// When the next nightly sync runs: a uniformly random moment in the
    /// first three quarters of the next window, so a first attempt that fails
    /// still has the last quarter for its retries.
    pub fn next_run(&self, now: NaiveDateTime, rng: &mut impl Rng) -> (NaiveDateTime, NaiveDateTime) {
        let (start, end) = self.next_window(now);
        let span_secs = (self.length().num_seconds() * 3 / 4).max(1);
        let offset = rng.random_range(0..span_secs);
        (start + TimeDelta::seconds(offset), end)
    }
}

/// Exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_secs(30), max: Duration::from_secs(30 * 60) }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (1-based): `base * 2^(attempt-1)`,
    /// capped at `max`, then scaled by a random factor in [0.5, 1.0].
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max);
        capped.mul_f64(rng.random_range(0.5..=1.0))
    }
}

/// The wall clock, abstracted so the daemon can be tested with paused time.
pub trait Clock: Send + Sync {
    /// Local time now.
    fn now(&self) -> NaiveDateTime;
}

/// The real local clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NaiveDateTime {
        Local::now().naive_local()
    }
}

/// Something that syncs once (the agent; a stand-in in scheduler tests).
pub trait Syncer: Send + Sync {
    /// One sync.
    fn sync(&self) -> impl Future<Output = Result<SyncReport, NodeError>> + Send;
}

impl Syncer for Agent {
    fn sync(&self) -> impl Future<Output = Result<SyncReport, NodeError>> + Send {
        self.sync_once()
    }
}

/// Runs until `shutdown`: once per night at a random moment in the window,
/// retrying retryable failures with backoff until the window closes; `now`
/// wakes it for an immediate sync (SIGUSR1 in the CLI).
pub async fn run_daemon(
    syncer: &impl Syncer,
    schedule: Schedule,
    backoff: Backoff,
    clock: &impl Clock,
    now: Arc<Notify>,
    shutdown: CancellationToken,
) {
    run_daemon_with(syncer, schedule, backoff, clock, now, shutdown, &mut rand::rng()).await;
}

/// [`run_daemon`] with the caller's random source (tests pass a seeded one).
pub async fn run_daemon_with(
    syncer: &impl Syncer,
    schedule: Schedule,
    backoff: Backoff,
    clock: &impl Clock,
    now: Arc<Notify>,
    shutdown: CancellationToken,
    rng: &mut impl Rng,
) {
    loop {
        let (at, mut deadline) = schedule.next_run(clock.now(), rng);
        info!(next_sync = %at, "waiting for the nightly window");
        let wait = (at - clock.now()).to_std().unwrap_or(Duration::ZERO);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
            () = now.notified() => {
                info!("sync requested now");
                deadline = clock.now() + schedule.length();
            }
        }
        let mut attempt = 0u32;
        loop {
            match syncer.sync().await {
                Ok(r) => {
                    info!(pushed = r.pushed, pulled = r.pulled, "nightly sync done");
                    break;
                }
                Err(e) if e.is_retryable() => {
                    attempt += 1;
                    let delay = backoff.delay(attempt, rng);
                    let next = clock.now() + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
                    if next > deadline {
                        error!(error = %e, attempt, "sync failed and the window has closed; trying again tomorrow night");
                        break;
                    }
                    warn!(error = %e, attempt, retry_in_secs = delay.as_secs(), "sync failed; will retry");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                Err(e) => {
                    error!(error = %e, "sync refused by the hub; it needs a person to look at it");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use chrono::NaiveDate;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn at(d: u32, h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap().and_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn next_run_falls_inside_the_next_window() {
        let s = Schedule::default();
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..500 {
            let (run, end) = s.next_run(at(22, 22, 0), &mut rng);
            assert!(run >= at(23, 1, 0) && run < at(23, 4, 0), "the last quarter is for retries: {run}");
            assert_eq!(end, at(23, 5, 0));
            seen.insert(run);
        }
        assert!(seen.len() > 400, "jitter spreads the schools out: {} distinct", seen.len());
        // Inside tonight's window already: the next window is tomorrow night.
        assert_eq!(s.next_window(at(22, 2, 0)).0, at(23, 1, 0));
        assert_eq!(s.next_window(at(22, 0, 30)).0, at(22, 1, 0));
    }

    #[test]
    fn windows_may_wrap_midnight() {
        let s = Schedule {
            window_start: NaiveTime::from_hms_opt(23, 0, 0).unwrap(),
            window_end: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
        };
        assert_eq!(s.length(), TimeDelta::hours(3));
        assert_eq!(s.next_window(at(22, 12, 0)), (at(22, 23, 0), at(23, 2, 0)));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let b = Backoff { base: Duration::from_secs(10), max: Duration::from_secs(100) };
        let mut rng = StdRng::seed_from_u64(1);
        let d1 = b.delay(1, &mut rng);
        assert!(d1 >= Duration::from_secs(5) && d1 <= Duration::from_secs(10));
        let d3 = b.delay(3, &mut rng);
        assert!(d3 >= Duration::from_secs(20) && d3 <= Duration::from_secs(40));
        for n in 5..40 {
            assert!(b.delay(n, &mut rng) <= Duration::from_secs(100));
        }
    }

    /// A clock that follows tokio's (paused) time from a fixed start.
    struct TokioClock {
        start: NaiveDateTime,
        t0: tokio::time::Instant,
    }

    impl Clock for TokioClock {
        fn now(&self) -> NaiveDateTime {
            self.start + TimeDelta::from_std(self.t0.elapsed()).unwrap()
        }
    }

    /// Fails with a retryable error the first `fail` times, recording when it was called.
    struct Flaky<'a> {
        clock: &'a TokioClock,
        fail: u32,
        calls: AtomicU32,
        times: Mutex<Vec<NaiveDateTime>>,
    }

    impl Syncer for Flaky<'_> {
        fn sync(&self) -> impl Future<Output = Result<SyncReport, NodeError>> + Send {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            self.times.lock().unwrap().push(self.clock.now());
            let fail = n < self.fail;
            async move {
                if fail {
                    Err(NodeError::Transport("connection refused".into()))
                } else {
                    Ok(SyncReport::default())
                }
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn syncs_nightly_in_the_window_and_retries_with_backoff() {
        let backoff = Backoff { base: Duration::from_secs(60), max: Duration::from_secs(600) };
        for seed in 0..64 {
            let clock = TokioClock { start: at(22, 22, 0), t0: tokio::time::Instant::now() };
            let flaky =
                Flaky { clock: &clock, fail: 2, calls: AtomicU32::new(0), times: Mutex::new(Vec::new()) };
            let shutdown = CancellationToken::new();
            let stop = shutdown.clone();
            let mut rng = StdRng::seed_from_u64(seed);
            let daemon = run_daemon_with(
                &flaky,
                Schedule::default(),
                backoff,
                &clock,
                Arc::new(Notify::new()),
                shutdown,
                &mut rng,
            );
            let timer = async {
                // Two nights and a bit, in paused time.
                tokio::time::sleep(Duration::from_secs(49 * 3600)).await; // until 24th 23:00
                stop.cancel();
            };
            tokio::join!(daemon, timer);
            let times = flaky.times.lock().unwrap().clone();
            check_two_nights(&times);
        }
    }

    fn check_two_nights(times: &[NaiveDateTime]) {
        // Night one: fail, fail, succeed; night two: succeed; the timer ends before night three.
        assert_eq!(times.len(), 4, "{times:?}");
        assert!(times[0] >= at(23, 1, 0) && times[0] < at(23, 5, 0));
        let gap1 = times[1] - times[0];
        let gap2 = times[2] - times[1];
        assert!(gap1 >= TimeDelta::seconds(30) && gap1 <= TimeDelta::seconds(60), "{gap1}");
        assert!(gap2 >= TimeDelta::seconds(60) && gap2 <= TimeDelta::seconds(120), "{gap2}");
        assert!(times[3] >= at(24, 1, 0) && times[3] < at(24, 5, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_syncs_now() {
        let clock = TokioClock { start: at(22, 9, 0), t0: tokio::time::Instant::now() };
        let flaky = Flaky { clock: &clock, fail: 0, calls: AtomicU32::new(0), times: Mutex::new(Vec::new()) };
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let now = Arc::new(Notify::new());
        let poke = now.clone();
        let daemon = run_daemon(&flaky, Schedule::default(), Backoff::default(), &clock, now, shutdown);
        let driver = async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            poke.notify_one();
            tokio::time::sleep(Duration::from_secs(60)).await;
            stop.cancel();
        };
        tokio::join!(daemon, driver);
        let times = flaky.times.lock().unwrap().clone();
        assert_eq!(times, vec![at(22, 9, 1)]);
    }
}
