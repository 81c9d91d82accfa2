//! People's accounts: 管理员 (operator), 教研员 (staff, linked to a roster staff id) and
//! 校长 (principal, linked to a school), with Argon2id password hashes, and the
//! short-lived signed tokens they log in for (the CLI without a certificate, and the
//! web dashboard in-process).
//!
//! [`Accounts`] is the whole API: [`Accounts::login`] checks a password and issues a
//! token, [`Accounts::verify`] turns a token back into the caller's [`Identity`]
//! (looking the account up again, so disabling it or changing its password ends its
//! tokens at once), and [`Accounts::logout`] revokes one token for good, durably in the
//! store (`revoked_token`), so every hub on the database refuses it from then on. A token's identity is the one a certificate would carry for the
//! same person (`Operator`, `Staff`, `Principal`), so it reads exactly what the scope
//! layer gives that identity, and never a node's: sync and attachment RPCs refuse it.
//!
//! The signing key is 32 random bytes made on the first start and kept in the hub's
//! database (`hub_secret`), so every hub on one database signs and checks alike.
//! Login attempts are audited (`user:NAME`, `login`) and repeated failures per
//! username are locked out for a while ([`lockout`]).

mod lockout;
mod password;
mod token;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use tokio::sync::Semaphore;
use yanpei_pki::Identity;
use yanpei_store::audit::AuditEntry;
use yanpei_store::hub::HubStore;

pub use password::MIN_PASSWORD_CHARS;
pub use yanpei_store::account::{Account, AccountRole};

use crate::HubError;
use crate::audit::AuditSink;
use lockout::Lockout;
use token::{Claims, TokenError, TokenKey};

/// How long a token is valid unless the hub's config says otherwise (`hub.token_ttl_secs`).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(8 * 3600);

/// The name of the token signing key in `hub_secret`.
const TOKEN_KEY: &str = "token_hmac_sha256";
/// Password hashes computed at once (each takes ~19 MiB and tens of milliseconds).
const CONCURRENT_HASHES: usize = 4;
/// The one answer to a wrong username or a wrong password.
const WRONG: &str = "用户名或密码错误";
/// The RPC name login attempts are audited under.
const LOGIN_RPC: &str = "login";
/// The RPC name signing out is audited under.
const LOGOUT_RPC: &str = "logout";

/// A successful login.
#[derive(Debug, Clone)]
pub struct Session {
    /// The bearer token (`authorization: Bearer <token>`).
    pub token: String,
    /// Who logged in, as the scope layer sees them.
    pub identity: Identity,
    /// The login name.
    pub username: String,
    /// The name people read.
    pub display_name: String,
    /// The account's role.
    pub role: AccountRole,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
}

/// Who a valid token names, as of now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who, as the scope layer sees them.
    pub identity: Identity,
    /// The login name.
    pub username: String,
    /// The name people read.
    pub display_name: String,
    /// The account's role.
    pub role: AccountRole,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
}

/// Accounts and tokens over the hub's store. Cheap to clone; one per hub process.
#[derive(Clone)]
pub struct Accounts(Arc<Inner>);

struct Inner {
    store: HubStore,
    key: TokenKey,
    ttl: Duration,
    lockout: Lockout,
    hashing: Semaphore,
    audit: Option<AuditSink>,
}

impl std::fmt::Debug for Accounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accounts").field("ttl", &self.0.ttl).finish_non_exhaustive()
    }
}

/// The identity an account acts as: the same one a certificate would name for that person.
pub fn identity_of(account: &Account) -> Identity {
    match &account.role {
        AccountRole::Operator => Identity::Operator { name: account.username.clone() },
        AccountRole::Staff { id } => Identity::Staff { id: id.clone() },
        AccountRole::Principal { school } => Identity::Principal { school: school.clone() },
    }
}

/// How the audit log names a person who logged in.
pub(crate) fn audit_name(username: &str) -> String {
    // The name may come from a stranger: keep the log readable.
    let clean: String = username.chars().filter(|c| !c.is_control()).take(64).collect();
    format!("user:{clean}")
}

fn check_username(username: &str) -> Result<(), HubError> {
    let ok = !username.is_empty()
        && username.len() <= 32
        && username.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(HubError::InvalidArgument(format!("用户名「{username}」无效：1 到 32 个英文字母、数字或 . _ -")))
    }
}

fn unix(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

impl Accounts {
    /// Opens the accounts of `store`, making the token signing key on the first start.
    /// Tokens issued live `token_ttl` (zero: expired at once, for tests).
    pub async fn open(store: HubStore, token_ttl: Duration) -> Result<Accounts, HubError> {
        Self::open_audited(store, token_ttl, None).await
    }

    /// [`Accounts::open`], auditing through the server's audit writer.
    pub(crate) async fn open_audited(
        store: HubStore,
        token_ttl: Duration,
        audit: Option<AuditSink>,
    ) -> Result<Accounts, HubError> {
        let hex = random_hex::<32>()?;
        let stored = store.secret_or_insert(TOKEN_KEY, &hex).await?;
        // Make the stand-in hash now, so the first unknown username is not slower than the rest.
        tokio::task::spawn_blocking(|| password::verify_nothing(""))
            .await
            .map_err(|e| HubError::Internal(format!("password warm-up: {e}")))?;
        let bytes = decode_hex(&stored)
            .filter(|b| b.len() >= 32)
            .ok_or_else(|| HubError::Internal(format!("hub_secret {TOKEN_KEY} is not 32+ bytes of hex")))?;
        Ok(Accounts(Arc::new(Inner {
            store,
            key: TokenKey::new(&bytes),
            ttl: token_ttl,
            lockout: Lockout::default(),
            hashing: Semaphore::new(CONCURRENT_HASHES),
            audit,
        })))
    }

    /// How long tokens live.
    pub fn token_ttl(&self) -> Duration {
        self.0.ttl
    }

    /// Checks `password` and issues a token. A wrong username and a wrong password get
    /// the same UNAUTHENTICATED answer (and take as long); after several failures for
    /// one username, attempts are refused for a while without checking. Every attempt
    /// is audited.
    pub async fn login(&self, username: &str, password: &str) -> Result<Session, HubError> {
        let username = username.trim();
        let result = self.try_login(username, password).await;
        let code = match &result {
            Ok(_) => 0,
            Err(e) => e.code() as i32,
        };
        let entry = AuditEntry {
            at: Utc::now(),
            caller: audit_name(username),
            rpc: LOGIN_RPC.into(),
            schools: Vec::new(),
            rows: 0,
            code,
        };
        self.audit(entry).await;
        match &result {
            Ok(s) => tracing::info!(user = %s.username, role = s.role.code(), "login"),
            Err(e) => tracing::warn!(user = %username, error = %e, "login refused"),
        }
        result
    }

    async fn try_login(&self, username: &str, password: &str) -> Result<Session, HubError> {
        let now = Instant::now();
        if let Err(wait) = self.0.lockout.check(username, now) {
            return Err(HubError::Unauthenticated(format!(
                "该用户名登录失败次数过多，请 {} 秒后再试",
                wait.as_secs().max(1)
            )));
        }
        let account =
            if check_username(username).is_ok() { self.0.store.account(username).await? } else { None };
        let matches =
            self.check_password(password, account.as_ref().map(|a| a.password_hash.clone())).await?;
        let Some(account) = account.filter(|_| matches) else {
            self.0.lockout.fail(username, Instant::now());
            return Err(HubError::Unauthenticated(WRONG.into()));
        };
        self.0.lockout.clear(username);
        if account.disabled {
            return Err(HubError::Unauthenticated("此账号已停用；请联系县进修学校".into()));
        }
        let issued = Utc::now();
        let ttl = chrono::TimeDelta::from_std(self.0.ttl).unwrap_or(chrono::TimeDelta::hours(8));
        let expires_at = issued + ttl;
        let claims = Claims {
            sub: account.username.clone(),
            role: account.role.code().into(),
            subj: account.role.subject(),
            generation: account.generation,
            iat: unix(issued),
            exp: unix(expires_at),
            jti: random_hex::<16>()?,
        };
        Ok(Session {
            token: self.0.key.sign(&claims),
            identity: identity_of(&account),
            username: account.username,
            display_name: account.display_name,
            role: account.role,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or(expires_at),
        })
    }

    /// Whether `password` matches `hash` (none: spend the same time, then no).
    async fn check_password(&self, password: &str, hash: Option<String>) -> Result<bool, HubError> {
        let _permit = self.0.hashing.acquire().await.map_err(|e| HubError::Internal(e.to_string()))?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || match hash {
            Some(h) => password::verify(&password, &h),
            None => {
                password::verify_nothing(&password);
                false
            }
        })
        .await
        .map_err(|e| HubError::Internal(format!("password check: {e}")))
    }

    /// The caller a token names: its signature and expiry, then the account as it is now
    /// (exists, enabled, same password generation, same role). Anything else is UNAUTHENTICATED.
    pub async fn verify(&self, token: &str) -> Result<Caller, HubError> {
        let claims = self.0.key.open(token.trim(), unix(Utc::now())).map_err(|e| {
            HubError::Unauthenticated(match e {
                TokenError::Expired => "登录已过期，请重新登录（yanpei login）".to_owned(),
                TokenError::Malformed | TokenError::BadSignature => {
                    "登录凭据无效，请重新登录（yanpei login）".to_owned()
                }
            })
        })?;
        if self.0.store.token_revoked(&claims.jti).await? {
            return Err(HubError::Unauthenticated("已退出登录，请重新登录".into()));
        }
        let gone = || HubError::Unauthenticated("账号不存在或已停用；请联系县进修学校".into());
        let account = self.0.store.account(&claims.sub).await?.ok_or_else(gone)?;
        if account.disabled {
            return Err(gone());
        }
        if account.generation != claims.generation {
            return Err(HubError::Unauthenticated("密码已更改，请重新登录（yanpei login）".into()));
        }
        if account.role.code() != claims.role || account.role.subject() != claims.subj {
            return Err(HubError::Unauthenticated("账号角色已变更，请重新登录（yanpei login）".into()));
        }
        Ok(Caller {
            identity: identity_of(&account),
            username: account.username,
            display_name: account.display_name,
            role: account.role,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or_default(),
        })
    }

    /// Ends `token` at once and for good (signing out), on every hub of this database,
    /// and audits it (`user:NAME`, `logout`). A token that is already invalid (forged,
    /// expired) has nothing to end: `Ok(None)`. Otherwise the name of whom it was.
    pub async fn logout(&self, token: &str) -> Result<Option<String>, HubError> {
        let Ok(claims) = self.0.key.open(token.trim(), unix(Utc::now())) else {
            return Ok(None);
        };
        let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now);
        let result = self.0.store.revoke_token(&claims.jti, &claims.sub, expires_at).await;
        let code = match &result {
            Ok(()) => 0,
            Err(e) => crate::error::store_code(e) as i32,
        };
        let entry = AuditEntry {
            at: Utc::now(),
            caller: audit_name(&claims.sub),
            rpc: LOGOUT_RPC.into(),
            schools: Vec::new(),
            rows: 0,
            code,
        };
        self.audit(entry).await;
        result?;
        tracing::info!(user = %claims.sub, "logout");
        Ok(Some(claims.sub))
    }

    /// Creates an account. The username is 1–32 of `A-Z a-z 0-9 . _ -`; a 教研员's staff
    /// id and a 校长's school must be on the current roster; the password at least
    /// [`MIN_PASSWORD_CHARS`] characters.
    pub async fn add(
        &self,
        username: &str,
        display_name: &str,
        role: AccountRole,
        password: &str,
    ) -> Result<Account, HubError> {
        check_username(username)?;
        let display_name = display_name.trim();
        if display_name.is_empty() || display_name.chars().count() > 64 {
            return Err(HubError::InvalidArgument("姓名不能为空，最多 64 个字符".into()));
        }
        self.check_role(&role).await?;
        password::check_strength(password)?;
        let password_hash = self.hash(password).await?;
        let new = yanpei_store::account::NewAccount {
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            role,
            password_hash,
        };
        let account = self.0.store.insert_account(&new).await?;
        self.admin_audit(&format!("account add {username}")).await;
        Ok(account)
    }

    async fn check_role(&self, role: &AccountRole) -> Result<(), HubError> {
        if matches!(role, AccountRole::Operator) {
            return Ok(());
        }
        let roster = self.0.store.current_roster().await?.map(|(_, r)| r).ok_or_else(|| {
            HubError::FailedPrecondition("县名册尚未导入：请先 yanpei roster import".into())
        })?;
        match role {
            AccountRole::Operator => Ok(()),
            AccountRole::Staff { id } if roster.staff.iter().any(|s| &s.id == id) => Ok(()),
            AccountRole::Staff { id } => {
                Err(HubError::InvalidArgument(format!("名册中没有工号为 {id} 的研培人员")))
            }
            AccountRole::Principal { school } if roster.schools.iter().any(|s| &s.code == school) => Ok(()),
            AccountRole::Principal { school } => {
                Err(HubError::InvalidArgument(format!("名册中没有学校 {school}")))
            }
        }
    }

    async fn hash(&self, password: &str) -> Result<String, HubError> {
        let _permit = self.0.hashing.acquire().await.map_err(|e| HubError::Internal(e.to_string()))?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || password::hash(&password))
            .await
            .map_err(|e| HubError::Internal(format!("password hash: {e}")))?
    }

    /// Every account, by username.
    pub async fn list(&self) -> Result<Vec<Account>, HubError> {
        Ok(self.0.store.accounts().await?)
    }

    /// The account named `username`, if any.
    pub async fn get(&self, username: &str) -> Result<Option<Account>, HubError> {
        Ok(self.0.store.account(username).await?)
    }

    /// Disables (ending its tokens at once) or enables an account.
    pub async fn set_disabled(&self, username: &str, disabled: bool) -> Result<Account, HubError> {
        let account = self.0.store.set_account_disabled(username, disabled).await?;
        let what = if disabled { "disable" } else { "enable" };
        self.admin_audit(&format!("account {what} {username}")).await;
        Ok(account)
    }

    /// Sets a new password (at least [`MIN_PASSWORD_CHARS`] characters), ending the
    /// account's existing tokens.
    pub async fn set_password(&self, username: &str, password: &str) -> Result<Account, HubError> {
        password::check_strength(password)?;
        if self.0.store.account(username).await?.is_none() {
            return Err(HubError::NotFound(format!("没有用户名为「{username}」的账号")));
        }
        let hash = self.hash(password).await?;
        let account = self.0.store.set_account_password(username, &hash).await?;
        self.admin_audit(&format!("account passwd {username}")).await;
        Ok(account)
    }

    /// Audits a change made on the hub machine (`yanpei account ...`).
    async fn admin_audit(&self, what: &str) {
        let entry = AuditEntry {
            at: Utc::now(),
            caller: "hub-admin".into(),
            rpc: what.into(),
            schools: Vec::new(),
            rows: 1,
            code: 0,
        };
        self.audit(entry).await;
    }

    async fn audit(&self, entry: AuditEntry) {
        match &self.0.audit {
            Some(sink) => sink.record(entry).await,
            None => {
                if let Err(e) = self.0.store.append_audit(&[entry]).await {
                    tracing::error!(error = %e, "could not write an audit entry");
                }
            }
        }
    }
}

/// `N` random bytes as hex.
fn random_hex<const N: usize>() -> Result<String, HubError> {
    let mut bytes = [0u8; N];
    SystemRandom::new().fill(&mut bytes).map_err(|_| HubError::Internal("system RNG failed".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_plain_and_short() {
        for ok in ["admin", "jy01", "zhang.san", "p_CGZ1-x"] {
            check_username(ok).unwrap();
        }
        for bad in ["", "张三", "a b", "x;drop", &"a".repeat(33)] {
            assert!(check_username(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(audit_name("a\u{0}b"), "user:ab");
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
    }
}
