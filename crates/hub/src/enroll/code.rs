//! One-time enrollment codes: drawn, normalised, hashed (pure but for the draw), and the
//! limiter of wrong guesses.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};

/// Letters and digits that cannot be misread for one another (no 0/O, 1/I/L).
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Characters in a code (31^8, about 8.5 x 10^11 codes).
pub const CODE_LEN: usize = 8;

/// A new code, printed as `XXXX-XXXX`.
pub fn new_code() -> Result<String, ring::error::Unspecified> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(CODE_LEN + 1);
    let mut buf = [0u8; 32];
    while out.len() < CODE_LEN + 1 {
        rng.fill(&mut buf)?;
        // Rejection sampling: 248 = 8 x 31, so every character is equally likely.
        for b in buf.iter().filter(|b| usize::from(**b) < 8 * ALPHABET.len()) {
            if out.len() == CODE_LEN + 1 {
                break;
            }
            if out.len() == CODE_LEN / 2 {
                out.push('-');
            }
            out.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
        }
    }
    Ok(out)
}

/// The code as typed, without dashes or spaces, in upper case; `None` if it cannot be a code.
pub fn normalise(typed: &str) -> Option<String> {
    let code: String =
        typed.chars().filter(|c| !matches!(c, '-' | ' ' | '\t')).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// What the hub stores of a code: the SHA-256 (hex) of its normal form.
pub fn code_hash(normalised: &str) -> String {
    yanpei_pki::hex(ring::digest::digest(&ring::digest::SHA256, normalised.as_bytes()).as_ref())
}

/// Wrong codes allowed per address in [`FAILURE_WINDOW`], and for the whole hub.
pub(crate) const FAILURES_PER_ADDRESS: usize = 5;
pub(crate) const FAILURES_OVERALL: usize = 50;
pub(crate) const FAILURE_WINDOW: Duration = Duration::from_secs(600);

/// Counts wrong codes per address and overall in a sliding window: a school that mistypes
/// gets a few tries; guessing codes gets nowhere.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    by_address: HashMap<String, Vec<Instant>>,
    overall: Vec<Instant>,
}

impl Failures {
    /// Whether `address` may try a code at `now`.
    pub(crate) fn allowed(&mut self, address: &str, now: Instant) -> bool {
        let fresh = |t: &Instant| now.saturating_duration_since(*t) < FAILURE_WINDOW;
        self.overall.retain(fresh);
        self.by_address.retain(|_, v| {
            v.retain(fresh);
            !v.is_empty()
        });
        self.overall.len() < FAILURES_OVERALL
            && self.by_address.get(address).is_none_or(|v| v.len() < FAILURES_PER_ADDRESS)
    }

    /// Notes a wrong, used or expired code from `address` at `now`.
    pub(crate) fn failed(&mut self, address: &str, now: Instant) {
        self.overall.push(now);
        self.by_address.entry(address.to_owned()).or_default().push(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_readable_and_round_trip() {
        let code = new_code().unwrap();
        assert_eq!(code.len(), 9, "{code}");
        assert_eq!(&code[4..5], "-");
        let norm = normalise(&code).unwrap();
        assert_eq!(normalise(&code.to_lowercase()).as_deref(), Some(norm.as_str()));
        assert_eq!(normalise(&format!(" {} ", norm)).as_deref(), Some(norm.as_str()));
        assert_eq!(code_hash(&norm).len(), 64);
        assert_ne!(new_code().unwrap(), code, "two draws differ");
    }

    #[test]
    fn impossible_codes_are_refused_before_any_lookup() {
        assert_eq!(normalise(""), None);
        assert_eq!(normalise("ABCD-EFG"), None, "too short");
        assert_eq!(normalise("ABCD-EFGH-J"), None, "too long");
        assert_eq!(normalise("ABCD-EFG0"), None, "0 is not in the alphabet");
        assert_eq!(normalise("ABCD-EFGI"), None, "I is not in the alphabet");
        assert_eq!(normalise("ABCD-EFG测"), None);
    }

    #[test]
    fn wrong_codes_are_limited_per_address_and_overall() {
        let mut f = Failures::default();
        let t0 = Instant::now();
        for _ in 0..FAILURES_PER_ADDRESS {
            assert!(f.allowed("10.0.0.1", t0));
            f.failed("10.0.0.1", t0);
        }
        assert!(!f.allowed("10.0.0.1", t0), "the address is blocked");
        assert!(f.allowed("10.0.0.2", t0), "another address is not");
        assert!(f.allowed("10.0.0.1", t0 + FAILURE_WINDOW), "the window slides");
        let mut g = Failures::default();
        for i in 0..FAILURES_OVERALL {
            g.failed(&format!("10.1.{}.{}", i / 200, i % 200), t0);
        }
        assert!(!g.allowed("10.9.9.9", t0), "too many overall");
    }
}
