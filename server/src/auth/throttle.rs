//! Throttling of failed sign-ins, per account and per client address: a few free failures, then
//! an exponentially growing lock-out (capped), forgotten after a quiet period or a success.
//! In memory: a restart forgets it, and several instances throttle separately (an attacker gets
//! at most N times the attempts), which keeps sign-in free of extra database writes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub free_failures: u32,
    pub max_lockout: Duration,
    pub forget_after: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

#[derive(Debug)]
pub struct Throttle {
    limits: Limits,
    records: Mutex<HashMap<String, Record>>,
}

impl Throttle {
    pub fn new(limits: Limits) -> Self {
        Self { limits, records: Mutex::new(HashMap::new()) }
    }

    /// `Err(wait)` while `key` is locked out.
    #[cfg(test)]
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let records = self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match records.get(key).and_then(|record| record.locked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Takes an attempt for `key`, counted as a failure until [`Self::record_success`] says
    /// otherwise: `Err(wait)` while locked out. Counting before the (slow) password check, under
    /// one lock, makes concurrent attempts count like sequential ones: twenty guesses sent at
    /// once get no more tries than twenty sent one after another, and the argon2 work one
    /// account can cause is bounded.
    pub fn attempt(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut records = self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(until) = records.get(key).and_then(|record| record.locked_until).filter(|until| *until > now) {
            return Err(until - now);
        }
        self.count_failure(&mut records, key, now);
        Ok(())
    }

    #[cfg(test)]
    pub fn record_failure(&self, key: &str, now: Instant) {
        let mut records = self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.count_failure(&mut records, key, now);
    }

    fn count_failure(&self, records: &mut HashMap<String, Record>, key: &str, now: Instant) {
        if records.len() > 100_000 {
            // Bound memory under a spray of distinct keys: drop what is old.
            let forget_after = self.limits.forget_after;
            records.retain(|_, record| now.duration_since(record.last_failure) < forget_after);
        }
        let record = records.entry(key.to_string()).or_insert(Record { failures: 0, last_failure: now, locked_until: None });
        if now.duration_since(record.last_failure) > self.limits.forget_after {
            *record = Record { failures: 0, last_failure: now, locked_until: None };
        }
        record.failures += 1;
        record.last_failure = now;
        if let Some(excess) = record.failures.checked_sub(self.limits.free_failures).filter(|&e| e > 0) {
            let lockout = Duration::from_secs(1u64 << excess.min(20)).min(self.limits.max_lockout);
            record.locked_until = Some(now + lockout);
        }
    }

    /// Takes back the failure an [`Self::attempt`] counted, when it succeeded (for an address
    /// shared by many users, whose other failures still count).
    pub fn release(&self, key: &str) {
        let mut records = self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(record) = records.get_mut(key) {
            record.failures = record.failures.saturating_sub(1);
            if record.failures <= self.limits.free_failures {
                record.locked_until = None;
            }
        }
    }

    pub fn record_success(&self, key: &str) {
        self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(Limits { free_failures: 3, max_lockout: Duration::from_secs(60), forget_after: Duration::from_secs(600) })
    }

    #[test]
    fn locks_out_after_free_failures_and_doubles() {
        let throttle = throttle();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(throttle.check("alice", start).is_ok());
            throttle.record_failure("alice", start);
        }
        assert!(throttle.check("alice", start).is_ok(), "three failures are free");
        throttle.record_failure("alice", start);
        assert_eq!(throttle.check("alice", start), Err(Duration::from_secs(2)));
        assert!(throttle.check("bob", start).is_ok(), "others are not affected");
        let later = start + Duration::from_secs(3);
        assert!(throttle.check("alice", later).is_ok());
        throttle.record_failure("alice", later);
        assert_eq!(throttle.check("alice", later), Err(Duration::from_secs(4)));
    }

    #[test]
    fn success_and_quiet_time_forgive() {
        let throttle = throttle();
        let start = Instant::now();
        for _ in 0..5 {
            throttle.record_failure("alice", start);
        }
        throttle.record_success("alice");
        assert!(throttle.check("alice", start).is_ok());
        for _ in 0..5 {
            throttle.record_failure("carol", start);
        }
        let much_later = start + Duration::from_secs(3600);
        throttle.record_failure("carol", much_later);
        assert!(throttle.check("carol", much_later).is_ok(), "old failures are forgotten");
    }

    #[test]
    fn lockout_is_capped() {
        let throttle = throttle();
        let start = Instant::now();
        for _ in 0..40 {
            throttle.record_failure("x", start);
        }
        assert_eq!(throttle.check("x", start), Err(Duration::from_secs(60)));
    }
}
