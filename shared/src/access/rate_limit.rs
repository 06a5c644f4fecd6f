//! Requests per API credential: a token bucket per credential, refilled continuously, so one
//! runaway script cannot starve the others. Each process (each Lambda instance) counts for
//! itself; API Gateway's stage throttling (template.yaml) bounds the total.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    refilled_at: DateTime<Utc>,
}

/// Buckets kept at most; beyond it, full (idle) buckets are dropped, which forgets nothing a
/// caller could gain from.
const MAX_BUCKETS: usize = 10_000;

impl RateLimiter {
    /// `per_minute` requests a minute per credential, in bursts of up to as many.
    pub fn new(per_minute: u32) -> Self {
        RateLimiter {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes one request from `credential`'s bucket: `Err(seconds)` to wait when it is empty.
    pub fn check(&self, credential: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(credential) {
            buckets.retain(|_, b| {
                let idle = (now - b.refilled_at).num_milliseconds().max(0) as f64 / 1000.0;
                b.tokens + idle * per_second < capacity
            });
        }
        let bucket = buckets.entry(credential.to_string()).or_insert(Bucket {
            tokens: capacity,
            refilled_at: now,
        });
        let elapsed = (now - bucket.refilled_at).num_milliseconds().max(0) as f64 / 1000.0;
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.refilled_at = now.max(bucket.refilled_at);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_credential_gets_its_burst_then_waits_and_others_are_unaffected() {
        let limiter = RateLimiter::new(3);
        let t0 = Utc::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("a", t0), Ok(()));
        }
        let wait = limiter.check("a", t0).unwrap_err();
        assert_eq!(wait, 20, "one request every 20 s at 3 a minute");
        assert_eq!(limiter.check("b", t0), Ok(()));
        assert!(limiter.check("a", t0 + Duration::seconds(19)).is_err());
        assert_eq!(limiter.check("a", t0 + Duration::seconds(21)), Ok(()));
    }
}
