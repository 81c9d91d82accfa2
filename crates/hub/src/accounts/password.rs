//! Password hashing: Argon2id (RustCrypto `argon2`, its default parameters: 19 MiB,
//! 2 passes, 1 lane) into a PHC string, a fresh 16-byte salt from the system's RNG.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ring::rand::{SecureRandom, SystemRandom};

use crate::HubError;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted, in bytes (hashing cost must not depend on what a stranger sends).
pub(crate) const MAX_PASSWORD_BYTES: usize = 1024;

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Refuses a password too short (or absurdly long) to set, with a message for people.
pub(crate) fn check_strength(password: &str) -> Result<(), HubError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(HubError::InvalidArgument(format!(
            "密码太短：至少 {MIN_PASSWORD_CHARS} 个字符（现在 {chars} 个）"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(HubError::InvalidArgument(format!("密码太长：最多 {MAX_PASSWORD_BYTES} 字节")));
    }
    if password.trim().is_empty() {
        return Err(HubError::InvalidArgument("密码不能全是空白".into()));
    }
    Ok(())
}

/// The Argon2id PHC string of `password` with a fresh salt.
pub(crate) fn hash(password: &str) -> Result<String, HubError> {
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).map_err(|_| HubError::Internal("system RNG failed".into()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HubError::Internal(format!("salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HubError::Internal(format!("argon2: {e}")))
}

/// Whether `password` matches the PHC string `phc` (parameters read from the string).
/// A malformed string matches nothing.
pub(crate) fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "stored password hash is not a PHC string");
            false
        }
    }
}

/// Spends the time of one verification against a hash of nothing, so an unknown
/// username takes as long to refuse as a wrong password.
pub(crate) fn verify_nothing(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(phc) = DUMMY.get_or_init(|| hash("yanpei-no-such-account").ok()) {
        let _ = verify(password, phc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_strings_with_fresh_salts() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "the same password hashed twice must differ by salt");
        assert!(verify("correct horse", &a));
        assert!(verify("correct horse", &b));
        assert!(!verify("correct hors", &a));
        assert!(!verify("", &a));
        assert!(!verify("correct horse", "not a phc string"));
        assert!(!verify(&"x".repeat(MAX_PASSWORD_BYTES + 1), &a));
    }

    #[test]
    fn weak_passwords_are_refused_in_chinese() {
        let e = check_strength("short").unwrap_err().to_string();
        assert!(e.contains("至少 8 个字符"), "{e}");
        // Characters, not bytes: eight Chinese characters are enough.
        check_strength("研培网络研培网络").unwrap();
        assert!(check_strength("        ").is_err());
        assert!(check_strength(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        check_strength("longenough").unwrap();
    }
}
