//! Enrollment and renewal: a school's node gets its certificate with a one-time code and
//! renews it during a nightly sync, without anyone carrying key files.
//!
//! The hub signs with the county CA's key when it is configured with one
//! ([`ServeOptions::ca`](crate::ServeOptions)); without it both RPCs answer
//! FAILED_PRECONDITION. Only the request's public key is taken from the node: the school
//! comes from the code (or, at renewal, from the caller's verified certificate) and the
//! node id is bound into the certificate, where the handshake checks it.

pub mod code;
mod expiry;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tonic::Request;
use tracing::{info, warn};
use uuid::Uuid;
use yanpei_domain::SchoolCode;
use yanpei_pki::{CountyCa, node_id_of, pem_to_der, serial_of, validity_of};
use yanpei_store::enrollment::{Enrollment, IssuedCert};
use yanpei_store::hub::HubStore;

pub(crate) use expiry::warn_at_start;

use crate::HubError;
use crate::audit::Note;
use crate::revocation::Revocations;

/// How long an enrollment code works unless the operator says otherwise.
pub const DEFAULT_CODE_TTL: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// A new enrollment for `school` (which must be on the roster), valid until `now + ttl`.
/// Returns the code, which is shown once and never stored.
pub async fn create_enrollment(
    store: &HubStore,
    school: &SchoolCode,
    ttl: chrono::TimeDelta,
    now: DateTime<Utc>,
) -> Result<(String, Enrollment), HubError> {
    if store.school_name(school).await?.is_none() {
        return Err(HubError::NotFound(format!("学校 {school} 不在县名册中，请先导入名册")));
    }
    let code = code::new_code().map_err(|_| HubError::Internal("no randomness for a code".into()))?;
    let norm = code::normalise(&code).ok_or_else(|| HubError::Internal("drew an invalid code".into()))?;
    let e = Enrollment {
        code_hash: code::code_hash(&norm),
        school: school.clone(),
        created_at: now,
        expires_at: now + ttl,
        used_at: None,
    };
    store.insert_enrollment(&e).await?;
    Ok((code, e))
}

/// Replacing a school's machine: a new enrollment for `school` (see [`create_enrollment`])
/// and every certificate the hub signed for the school's nodes (only `old_node`'s, if
/// given), which the caller revokes. The school's records stay at the hub; the new node
/// pulls them at its first sync.
pub async fn replace_machine(
    store: &HubStore,
    school: &SchoolCode,
    old_node: Option<&str>,
    ttl: chrono::TimeDelta,
    now: DateTime<Utc>,
) -> Result<(String, Enrollment, Vec<IssuedCert>), HubError> {
    let old: Vec<IssuedCert> = store
        .issued_certs()
        .await?
        .into_iter()
        .filter(|c| &c.school == school && old_node.is_none_or(|n| c.node_id.eq_ignore_ascii_case(n)))
        .collect();
    if old_node.is_some() && old.is_empty() {
        return Err(HubError::NotFound(format!("中心没有为学校 {school} 的这个节点签发过证书")));
    }
    let (code, e) = create_enrollment(store, school, ttl, now).await?;
    Ok((code, e, old))
}

/// The node id the caller's certificate is bound to, if its certificate names one
/// (certificates issued before enrollment existed do not: they keep the old behaviour).
pub(crate) fn bound_node_id<T>(req: &Request<T>) -> Option<String> {
    let leaf = req.peer_certs()?.first().cloned()?;
    node_id_of(leaf.as_ref()).ok().flatten()
}

/// A node's enrollment: its one-time code, its node id and its certificate request.
#[derive(Debug, Clone)]
pub(crate) struct EnrollRequest {
    pub code: String,
    pub node_id: String,
    pub csr_pem: String,
}

/// A signed certificate for an enrolled node.
#[derive(Debug, Clone)]
pub(crate) struct Enrolled {
    pub cert_pem: String,
    pub ca_pem: String,
    pub school_code: String,
    pub school_name: String,
}

pub(crate) struct Enroll {
    store: HubStore,
    ca: Option<Arc<CountyCa>>,
    pub(crate) revoked: Arc<Revocations>,
    failures: Mutex<code::Failures>,
}

impl Enroll {
    pub(crate) fn new(store: HubStore, ca: Option<Arc<CountyCa>>, revoked: Arc<Revocations>) -> Self {
        Enroll { store, ca, revoked, failures: Mutex::default() }
    }

    fn ca(&self) -> Result<&CountyCa, HubError> {
        self.ca.as_deref().ok_or_else(|| {
            HubError::FailedPrecondition(
                "本中心未配置县 CA 私钥（hub.toml 的 ca_key），不能在线签发证书；请联系县进修学校".into(),
            )
        })
    }

    /// Signs `csr` for `school`/`node_id` and describes the certificate.
    fn sign(
        &self,
        csr: &str,
        school: &SchoolCode,
        node_id: &str,
        kind: &str,
    ) -> Result<(String, IssuedCert), HubError> {
        let ca = self.ca()?;
        let now = time::OffsetDateTime::now_utc();
        let pem = ca
            .sign_node_request(csr, school, node_id, now, ca.lifetimes().node_days)
            .map_err(|e| HubError::InvalidArgument(format!("证书请求无效：{e}")))?;
        let der = pem_to_der(&pem).map_err(|e| HubError::Internal(e.to_string()))?;
        let serial = serial_of(&der).map_err(|e| HubError::Internal(e.to_string()))?;
        let v = validity_of(&der).map_err(|e| HubError::Internal(e.to_string()))?;
        let not_after = DateTime::from_timestamp(v.not_after, 0)
            .ok_or_else(|| HubError::Internal("certificate expiry out of range".into()))?;
        let issued = IssuedCert {
            serial: yanpei_pki::hex(&serial),
            school: school.clone(),
            node_id: node_id.to_owned(),
            kind: kind.to_owned(),
            issued_at: Utc::now(),
            not_after,
        };
        Ok((pem, issued))
    }

    /// Enrolls the node calling from `address` (failures there count toward its lockout).
    pub(crate) async fn enroll(
        &self,
        address: &str,
        r: EnrollRequest,
        note: &Note,
    ) -> Result<Enrolled, HubError> {
        let ca_pem = self.ca()?.cert_pem().to_owned();
        let allowed = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .allowed(address, Instant::now());
        if !allowed {
            return Err(HubError::ResourceExhausted(
                "注册码错误次数过多，请 10 分钟后再试，或联系县进修学校核对注册码".into(),
            ));
        }
        let refused = |message: String| {
            self.failures
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .failed(address, Instant::now());
            warn!(%address, reason = %message, "enrollment refused");
            HubError::PermissionDenied(message)
        };
        let Some(norm) = code::normalise(&r.code) else {
            return Err(refused("注册码不正确：请按注册单核对（8 位字母和数字）".into()));
        };
        let hash = code::code_hash(&norm);
        let Some(e) = self.store.enrollment(&hash).await? else {
            return Err(refused("注册码不正确：请按注册单核对，或请县进修学校重新生成".into()));
        };
        note.school(&e.school);
        let now = Utc::now();
        if e.used_at.is_some() {
            return Err(refused("此注册码已经用过，每个注册码只能用一次；请县进修学校重新生成".into()));
        }
        if e.expires_at <= now {
            return Err(refused(format!(
                "此注册码已于 {} 过期；请县进修学校重新生成",
                e.expires_at.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        let node_id = Uuid::try_parse(r.node_id.trim())
            .map_err(|_| HubError::InvalidArgument(format!("node_id「{}」不是合法的 UUID", r.node_id)))?
            .to_string();
        if let Some(other) = self.store.node_id_school(&node_id).await?
            && other != e.school
        {
            return Err(HubError::PermissionDenied(format!(
                "节点编号 {node_id} 已属于学校 {other}，不能再注册为学校 {}",
                e.school
            )));
        }
        let (cert_pem, issued) = self.sign(&r.csr_pem, &e.school, &node_id, "enroll")?;
        if !self.store.complete_enrollment(&hash, &issued, now).await? {
            // Used or expired between the read and the write: the certificate is dropped unseen.
            return Err(refused("此注册码已经用过，每个注册码只能用一次；请县进修学校重新生成".into()));
        }
        let school_name = self.store.school_name(&e.school).await?.unwrap_or_default();
        info!(school_code = %e.school, %node_id, serial = %issued.serial, not_after = %issued.not_after, "node enrolled");
        Ok(Enrolled { cert_pem, ca_pem, school_code: e.school.to_string(), school_name })
    }

    /// A new certificate for `school`'s node `node_id` (bound in its current one) over `csr_pem`.
    pub(crate) async fn renew(
        &self,
        school: SchoolCode,
        node_id: Option<String>,
        csr_pem: &str,
    ) -> Result<String, HubError> {
        self.ca()?;
        let node_id = node_id.ok_or_else(|| {
            HubError::FailedPrecondition(
                "本节点证书未绑定节点编号（注册功能之前签发），不能自动续期；请用注册码重新注册：yanpei node init --enroll".into(),
            )
        })?;
        let (cert_pem, issued) = self.sign(csr_pem, &school, &node_id, "renew")?;
        self.store.record_issued(&issued).await?;
        info!(school_code = %school, %node_id, serial = %issued.serial, not_after = %issued.not_after, "node certificate renewed");
        Ok(cert_pem)
    }
}
