//! Slowing down password guessing: after [`FREE_FAILURES`] wrong passwords in a row for
//! one username, that username is locked for [`FIRST_LOCK`], doubling with every
//! further failure up to [`MAX_LOCK`]. Unknown usernames are counted the same way, so
//! a lockout says nothing about whether an account exists. Kept in memory, per hub
//! process (a restart forgets it) and shared by its gRPC and dashboard ports (one
//! `Accounts` per `Hub`); a success clears the username's count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong passwords allowed in a row before a lock.
pub(crate) const FREE_FAILURES: u32 = 5;
/// The first lock.
pub(crate) const FIRST_LOCK: Duration = Duration::from_secs(30);
/// The longest lock.
pub(crate) const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// A count older than this is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Usernames tracked at most (a flood of made-up names must not grow memory without bound).
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// Failure counts by username.
#[derive(Debug, Default)]
pub(crate) struct Lockout(Mutex<HashMap<String, Failures>>);

fn key(username: &str) -> String {
    username.to_lowercase()
}

impl Lockout {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Failures>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// `Err(wait)` while `username` is locked at `now`.
    pub(crate) fn check(&self, username: &str, now: Instant) -> Result<(), Duration> {
        self.with(|map| match map.get(&key(username)).and_then(|f| f.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        })
    }

    /// Counts a failure for `username` at `now`, locking it once past the free ones.
    pub(crate) fn fail(&self, username: &str, now: Instant) {
        self.with(|map| {
            if map.len() >= MAX_TRACKED {
                map.retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
                if map.len() >= MAX_TRACKED {
                    // Still full of fresh entries: forget the oldest half.
                    let mut lasts: Vec<Instant> = map.values().map(|f| f.last).collect();
                    lasts.sort_unstable();
                    let cut = lasts[lasts.len() / 2];
                    map.retain(|_, f| f.last > cut);
                }
            }
            let entry =
                map.entry(key(username)).or_insert(Failures { count: 0, last: now, locked_until: None });
            if now.saturating_duration_since(entry.last) >= FORGET_AFTER {
                *entry = Failures { count: 0, last: now, locked_until: None };
            }
            entry.count = entry.count.saturating_add(1);
            entry.last = now;
            if entry.count >= FREE_FAILURES {
                let doublings = (entry.count - FREE_FAILURES).min(16);
                let lock = FIRST_LOCK.saturating_mul(1 << doublings).min(MAX_LOCK);
                entry.locked_until = Some(now + lock);
            }
        });
    }

    /// Forgets `username`'s failures (after a successful login).
    pub(crate) fn clear(&self, username: &str) {
        self.with(|map| map.remove(&key(username)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_lock_then_double_then_clear() {
        let l = Lockout::default();
        let t0 = Instant::now();
        for i in 0..FREE_FAILURES - 1 {
            l.fail("jy01", t0);
            assert!(l.check("jy01", t0).is_ok(), "locked after {} failures", i + 1);
        }
        l.fail("JY01", t0); // the same name in other case
        assert_eq!(l.check("jy01", t0), Err(FIRST_LOCK));
        assert!(l.check("admin", t0).is_ok(), "another name is not locked");
        let later = t0 + FIRST_LOCK;
        assert!(l.check("jy01", later).is_ok(), "the lock ends");
        l.fail("jy01", later);
        assert_eq!(l.check("jy01", later), Err(FIRST_LOCK * 2));
        l.clear("jy01");
        assert!(l.check("jy01", later).is_ok());
    }

    #[test]
    fn locks_are_capped_and_old_counts_forgotten() {
        let l = Lockout::default();
        let t0 = Instant::now();
        for _ in 0..40 {
            l.fail("x", t0);
        }
        assert_eq!(l.check("x", t0), Err(MAX_LOCK));
        let much_later = t0 + FORGET_AFTER;
        l.fail("x", much_later);
        assert!(l.check("x", much_later).is_ok(), "a count an hour old was not forgotten");
    }

    #[test]
    fn memory_is_bounded() {
        let l = Lockout::default();
        let t0 = Instant::now();
        for i in 0..(MAX_TRACKED + 10) {
            l.fail(&format!("u{i}"), t0 + Duration::from_millis(i as u64));
        }
        assert!(l.with(|m| m.len()) <= MAX_TRACKED);
    }
}
