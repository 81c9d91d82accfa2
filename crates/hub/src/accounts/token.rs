//! Login tokens: `yp1.<claims>.<tag>`, where `<claims>` is base64url (unpadded) JSON
//! and `<tag>` is base64url HMAC-SHA256 (ring) over `yp1.<claims>` with the hub's key.
//!
//! The tag is checked first, in constant time (`ring::hmac::verify`); only then are
//! the claims parsed and the expiry read. A token says who (username), as what (role
//! and subject), of which password generation, issued when and valid until when, and
//! carries a random id that signing out revokes; the account behind it, and whether
//! the id was revoked, are looked up again on every use (see `Accounts::verify`).

use base64ct::{Base64UrlUnpadded, Encoding};
use ring::hmac;
use serde::{Deserialize, Serialize};

/// The prefix naming the token format.
const PREFIX: &str = "yp1";
/// Longer tokens are refused before any work is done.
pub(crate) const MAX_TOKEN_BYTES: usize = 4096;
/// How far in the future an issue time may lie (clocks of several hubs differ a little).
const CLOCK_SKEW_SECS: i64 = 300;

/// What a token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    /// The username.
    pub(crate) sub: String,
    /// `operator`, `staff` or `principal`.
    pub(crate) role: String,
    /// The staff id or school code the role is linked to (empty for an operator).
    pub(crate) subj: String,
    /// The account's password generation when the token was issued.
    pub(crate) generation: i64,
    /// Issued at, Unix seconds.
    pub(crate) iat: i64,
    /// Valid before this, Unix seconds.
    pub(crate) exp: i64,
    /// A random id naming this token (32 hex digits), which signing out revokes.
    pub(crate) jti: String,
}

/// Why a token was refused (all of them are UNAUTHENTICATED to the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Not a token of this format.
    Malformed,
    /// The tag does not match: forged, altered, or signed by another county's hub.
    BadSignature,
    /// Past its expiry (or issued in the future).
    Expired,
}

/// The key tokens are signed with.
pub(crate) struct TokenKey(hmac::Key);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    /// A key from its bytes (32 random bytes made once per county).
    pub(crate) fn new(bytes: &[u8]) -> Self {
        TokenKey(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// The signed token for `claims`.
    pub(crate) fn sign(&self, claims: &Claims) -> String {
        // Serialising plain strings and integers cannot fail.
        let json = serde_json::to_vec(claims).unwrap_or_default();
        let signed = format!("{PREFIX}.{}", Base64UrlUnpadded::encode_string(&json));
        let tag = hmac::sign(&self.0, signed.as_bytes());
        format!("{signed}.{}", Base64UrlUnpadded::encode_string(tag.as_ref()))
    }

    /// The claims of a token this key signed that is valid at `now` (Unix seconds).
    pub(crate) fn open(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let (signed, tag) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let (prefix, body) = signed.split_once('.').ok_or(TokenError::Malformed)?;
        if prefix != PREFIX {
            return Err(TokenError::Malformed);
        }
        let tag = Base64UrlUnpadded::decode_vec(tag).map_err(|_| TokenError::Malformed)?;
        hmac::verify(&self.0, signed.as_bytes(), &tag).map_err(|_| TokenError::BadSignature)?;
        let json = Base64UrlUnpadded::decode_vec(body).map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if now >= claims.exp || claims.iat > now + CLOCK_SKEW_SECS {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iat: i64, exp: i64) -> Claims {
        Claims {
            sub: "jy01".into(),
            role: "staff".into(),
            subj: "JY01".into(),
            generation: 1,
            iat,
            exp,
            jti: "00112233445566778899aabbccddeeff".into(),
        }
    }

    #[test]
    fn a_signed_token_opens_until_it_expires() {
        let key = TokenKey::new(&[7; 32]);
        let c = claims(1_000, 1_000 + 8 * 3600);
        let token = key.sign(&c);
        assert!(token.starts_with("yp1.") && token.split('.').count() == 3, "{token}");
        assert_eq!(key.open(&token, 1_000), Ok(c.clone()));
        assert_eq!(key.open(&token, c.exp - 1), Ok(c.clone()));
        assert_eq!(key.open(&token, c.exp), Err(TokenError::Expired));
        // Issued far in the future (a clock gone wrong): refused too.
        assert_eq!(key.open(&token, 1_000 - CLOCK_SKEW_SECS - 1), Err(TokenError::Expired));
        // A zero lifetime is expired at once.
        assert_eq!(key.open(&key.sign(&claims(5, 5)), 5), Err(TokenError::Expired));
    }

    #[test]
    fn tampered_foreign_and_malformed_tokens_are_refused() {
        let key = TokenKey::new(&[7; 32]);
        let token = key.sign(&claims(1_000, 100_000));
        // Claims rewritten to another role, tag kept.
        let (_, rest) = token.split_once('.').unwrap();
        let (_, tag) = rest.split_once('.').unwrap();
        let mut forged = claims(1_000, 100_000);
        forged.role = "operator".into();
        let body = Base64UrlUnpadded::encode_string(&serde_json::to_vec(&forged).unwrap());
        assert_eq!(key.open(&format!("yp1.{body}.{tag}"), 2_000), Err(TokenError::BadSignature));
        // One character of the tag changed.
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(key.open(std::str::from_utf8(&flipped).unwrap(), 2_000).is_err());
        // Signed by another hub's key.
        assert_eq!(TokenKey::new(&[8; 32]).open(&token, 2_000), Err(TokenError::BadSignature));
        for junk in ["", "yp1", "yp1..", "yp2.e30.AAAA", "not a token", "yp1.e30.!!!"] {
            assert!(key.open(junk, 2_000).is_err(), "{junk:?} opened");
        }
        assert_eq!(key.open(&"a".repeat(MAX_TOKEN_BYTES + 1), 2_000), Err(TokenError::Malformed));
    }
}
