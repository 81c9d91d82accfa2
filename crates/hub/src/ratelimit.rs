//! Per-caller rate limits: a token bucket per identity the client certificate names.
//!
//! Each caller may make `burst` requests at once and then `per_second` on average; a
//! request over that is answered RESOURCE_EXHAUSTED at once (a node's agent retries
//! with backoff), never queued. The buckets are in memory: a hub restart refills them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many requests one caller may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second per caller; 0 turns the limit off.
    pub per_second: u32,
    /// Requests a caller may make at once, after being idle.
    pub burst: u32,
}

impl RateLimit {
    /// No limit.
    pub const UNLIMITED: RateLimit = RateLimit { per_second: 0, burst: 0 };

    /// Whether the limit is off.
    pub fn is_unlimited(&self) -> bool {
        self.per_second == 0
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of every caller seen since the hub started.
#[derive(Debug)]
pub(crate) struct Buckets {
    limit: RateLimit,
    callers: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Buckets { limit, callers: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes one token from `caller`'s bucket at `now`; when none is left, how long until one is.
    pub(crate) fn take(&self, caller: &str, now: Instant) -> Result<(), Duration> {
        if self.limit.is_unlimited() {
            return Ok(());
        }
        let rate = f64::from(self.limit.per_second);
        let capacity = f64::from(self.limit.burst.max(1));
        let mut callers = self.callers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = callers.entry(caller.to_owned()).or_insert(Bucket { tokens: capacity, at: now });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.at = now.max(bucket.at);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let b = Buckets::new(RateLimit { per_second: 2, burst: 3 });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(b.take("node:A", t0).is_ok());
        }
        let wait = b.take("node:A", t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another caller has its own bucket.
        assert!(b.take("node:B", t0).is_ok());
        // Half a second later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert!(b.take("node:A", t1).is_ok());
        assert!(b.take("node:A", t1).is_err());
        // After a long idle the bucket is full again, never fuller.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(b.take("node:A", t2).is_ok());
        }
        assert!(b.take("node:A", t2).is_err());
    }

    #[test]
    fn unlimited_never_refuses() {
        let b = Buckets::new(RateLimit::UNLIMITED);
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| b.take("node:A", t0).is_ok()));
    }
}
