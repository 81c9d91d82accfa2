//! The county certificate authority (CA) and the identities its certificates carry.
//!
//! Every certificate names who holds it in a subject-alternative-name URI:
//! `urn:yanpei:node:<school code>` for a school's node agent and
//! `urn:yanpei:operator:<name>` for the county operator. The hub reads that
//! URI from the *verified* client certificate; it never trusts a field the
//! peer sends about itself.

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, ExtendedKeyUsagePurpose,
    IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SanType, SerialNumber,
};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use yanpei_domain::SchoolCode;

mod csr;

pub use csr::{
    CA_DAYS, DEFAULT_HUB_DAYS, DEFAULT_NODE_DAYS, DEFAULT_PERSON_DAYS, DEFAULT_RENEW_WITHIN_DAYS,
    EXPIRY_WARNING_DAYS, Lifetimes, NODE_ID_URN, Validity, der_to_pem, fingerprint, fingerprint_matches, hex,
    node_id_of, node_request, renewal_due, validity_of,
};

/// The DNS name the hub's certificate carries; nodes verify the hub against it.
pub const HUB_DNS_NAME: &str = "hub.yanpei.internal";

const NODE_URN: &str = "urn:yanpei:node:";
const OPERATOR_URN: &str = "urn:yanpei:operator:";
const STAFF_URN: &str = "urn:yanpei:staff:";
const PRINCIPAL_URN: &str = "urn:yanpei:principal:";

/// Who a verified client certificate says its holder is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// A school's node agent.
    Node {
        /// The school.
        school: SchoolCode,
    },
    /// A member of the research staff (教研员), by staff id (工号) as on the roster.
    Staff {
        /// The staff id.
        id: String,
    },
    /// The county operator (管理员).
    Operator {
        /// The operator's name.
        name: String,
    },
    /// A school's principal (校长): reads their own school, never writes (a node
    /// certificate does). Today only a login token names one (`urn:yanpei:principal:<code>`
    /// is read for a certificate issued elsewhere).
    Principal {
        /// The school.
        school: SchoolCode,
    },
}

/// What can go wrong with keys and certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// Generating or signing failed.
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// A certificate did not name a yanpei identity.
    #[error("the certificate names no yanpei identity: {0}")]
    NoIdentity(String),
    /// Files already exist where new ones would be written.
    #[error("{0} already exists; refusing to overwrite a CA")]
    Exists(PathBuf),
    /// A certificate request that cannot be read or whose signature does not match its key.
    #[error("{0}")]
    BadRequest(String),
}

/// PEM material for one end of a mutual-TLS connection: the county CA that
/// the other end must chain to, and this end's certificate and key.
#[derive(Clone)]
pub struct TlsMaterial {
    /// The county CA certificate.
    pub ca_pem: String,
    /// This end's certificate.
    pub cert_pem: String,
    /// This end's private key.
    pub key_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("TlsMaterial").finish_non_exhaustive()
    }
}

/// PEM text of a certificate and its private key.
#[derive(Debug, Clone)]
pub struct CertifiedKey {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM. Keep it secret.
    pub key_pem: String,
}

impl CertifiedKey {
    /// Writes `<stem>.pem` and `<stem>.key` into `dir`.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<(PathBuf, PathBuf), PkiError> {
        fs::create_dir_all(dir).map_err(|source| PkiError::Io { path: dir.to_owned(), source })?;
        let cert = dir.join(format!("{stem}.pem"));
        let key = dir.join(format!("{stem}.key"));
        write(&cert, &self.cert_pem)?;
        write_secret(&key, &self.key_pem)?;
        Ok((cert, key))
    }
}

fn write(path: &Path, text: &str) -> Result<(), PkiError> {
    fs::write(path, text).map_err(|source| PkiError::Io { path: path.to_owned(), source })
}

/// Writes a private key readable by its owner only.
fn write_secret(path: &Path, text: &str) -> Result<(), PkiError> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|source| PkiError::Io { path: path.to_owned(), source })?;
    file.write_all(text.as_bytes()).map_err(|source| PkiError::Io { path: path.to_owned(), source })
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Io { path: path.to_owned(), source })
}

/// A county CA: its certificate and signing key.
pub struct CountyCa {
    cert_pem: String,
    key: KeyPair,
    lifetimes: Lifetimes,
}

impl std::fmt::Debug for CountyCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountyCa").finish_non_exhaustive()
    }
}

impl CountyCa {
    /// A new CA for `county`.
    pub fn generate(county: &str) -> Result<CountyCa, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, format!("{county} 研培网络 CA"));
        params.distinguished_name.push(DnType::OrganizationName, "yanpei");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(CA_DAYS);
        let cert = params.self_signed(&key)?;
        Ok(CountyCa { cert_pem: cert.pem(), key, lifetimes: Lifetimes::default() })
    }

    /// Loads `ca.pem` and `ca.key` from `dir`.
    pub fn load(dir: &Path) -> Result<CountyCa, PkiError> {
        let cert_pem = read(&dir.join("ca.pem"))?;
        let key = KeyPair::from_pem(&read(&dir.join("ca.key"))?)?;
        Ok(CountyCa { cert_pem, key, lifetimes: Lifetimes::default() })
    }

    /// The same CA issuing certificates that live `lifetimes` (default [`Lifetimes::default`]).
    pub fn with_lifetimes(mut self, lifetimes: Lifetimes) -> CountyCa {
        self.lifetimes = lifetimes;
        self
    }

    /// How long the certificates this CA issues live.
    pub fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    /// The CA from its certificate and key (PEM), refusing a key that is not the certificate's.
    pub fn from_pems(cert_pem: &str, key_pem: &str) -> Result<CountyCa, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let der = pem_to_der(cert_pem)?;
        let (_, cert) = X509Certificate::from_der(&der)
            .map_err(|e| PkiError::NoIdentity(format!("unreadable CA certificate: {e}")))?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(PkiError::BadRequest("the CA key does not belong to the CA certificate".into()));
        }
        Ok(CountyCa { cert_pem: cert_pem.to_owned(), key, lifetimes: Lifetimes::default() })
    }

    /// Writes `ca.pem` and `ca.key` into `dir`, refusing to overwrite.
    pub fn save(&self, dir: &Path) -> Result<(), PkiError> {
        let cert = dir.join("ca.pem");
        if cert.exists() {
            return Err(PkiError::Exists(cert));
        }
        CertifiedKey { cert_pem: self.cert_pem.clone(), key_pem: self.key.serialize_pem() }
            .write(dir, "ca")?;
        Ok(())
    }

    /// The CA certificate, PEM: what every peer trusts.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Signs `params` with a new key, valid from an hour ago (clock skew) for `days`.
    fn issue_for(&self, mut params: CertificateParams, days: i64) -> Result<CertifiedKey, PkiError> {
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + time::Duration::days(days.max(1));
        self.issue(params)
    }

    fn issue(&self, mut params: CertificateParams) -> Result<CertifiedKey, PkiError> {
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)?;
        let key = KeyPair::generate()?;
        params.serial_number = Some(csr::random_serial()?);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let cert = params.signed_by(&key, &issuer)?;
        Ok(CertifiedKey { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// The hub's server certificate, valid for [`HUB_DNS_NAME`], `localhost`,
    /// 127.0.0.1 and any extra names given.
    pub fn issue_hub(&self, extra_names: &[String]) -> Result<CertifiedKey, PkiError> {
        let mut names = vec![HUB_DNS_NAME.to_owned(), "localhost".to_owned()];
        names.extend(extra_names.iter().cloned());
        let mut params = CertificateParams::new(names)?;
        params.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
        params.distinguished_name.push(DnType::CommonName, "yanpei hub");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue_for(params, self.lifetimes.hub_days)
    }

    /// A node agent's client certificate for `school`.
    pub fn issue_node(&self, school: &SchoolCode) -> Result<CertifiedKey, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.subject_alt_names.push(SanType::URI(format!("{NODE_URN}{school}").try_into()?));
        params.distinguished_name.push(DnType::CommonName, format!("node {school}"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue_for(params, self.lifetimes.node_days)
    }

    /// A node certificate valid only between `not_before` and `not_after` (for tests of expiry).
    pub fn issue_node_valid(
        &self,
        school: &SchoolCode,
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
    ) -> Result<CertifiedKey, PkiError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.subject_alt_names.push(SanType::URI(format!("{NODE_URN}{school}").try_into()?));
        params.distinguished_name.push(DnType::CommonName, format!("node {school}"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = not_before;
        params.not_after = not_after;
        self.issue(params)
    }

    /// A certificate revocation list (PEM) naming `revoked` serial numbers, signed by this CA,
    /// valid for `days`. The hub reloads it when the file changes.
    pub fn crl_pem(&self, revoked: &[Vec<u8>], number: u64, days: i64) -> Result<String, PkiError> {
        let issuer = Issuer::from_ca_cert_pem(&self.cert_pem, &self.key)?;
        let now = time::OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + time::Duration::days(days.max(1)),
            crl_number: SerialNumber::from(number.to_be_bytes().to_vec()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from(serial.clone()),
                    revocation_time: now,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&issuer)?.pem()?)
    }

    /// A 教研员's client certificate, by staff id (ASCII letters, digits, - and _).
    pub fn issue_staff(&self, id: &str) -> Result<CertifiedKey, PkiError> {
        let safe: String =
            id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.subject_alt_names.push(SanType::URI(format!("{STAFF_URN}{safe}").try_into()?));
        params.distinguished_name.push(DnType::CommonName, format!("staff {safe}"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue_for(params, self.lifetimes.person_days)
    }

    /// The county operator's client certificate.
    pub fn issue_operator(&self, name: &str) -> Result<CertifiedKey, PkiError> {
        let safe: String =
            name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.subject_alt_names.push(SanType::URI(format!("{OPERATOR_URN}{safe}").try_into()?));
        params.distinguished_name.push(DnType::CommonName, format!("operator {safe}"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue_for(params, self.lifetimes.person_days)
    }
}

/// The identity named by a (verified) DER certificate.
pub fn identity_of(der: &[u8]) -> Result<Identity, PkiError> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| PkiError::NoIdentity(format!("unreadable certificate: {e}")))?;
    let san = cert
        .subject_alternative_name()
        .map_err(|e| PkiError::NoIdentity(format!("bad subjectAltName: {e}")))?
        .ok_or_else(|| PkiError::NoIdentity("no subjectAltName".into()))?;
    for name in &san.value.general_names {
        if let GeneralName::URI(uri) = name {
            if let Some(code) = uri.strip_prefix(NODE_URN) {
                let school = code.parse().map_err(|e| PkiError::NoIdentity(format!("{e}")))?;
                return Ok(Identity::Node { school });
            }
            if let Some(id) = uri.strip_prefix(STAFF_URN) {
                return Ok(Identity::Staff { id: id.to_owned() });
            }
            if let Some(name) = uri.strip_prefix(OPERATOR_URN) {
                return Ok(Identity::Operator { name: name.to_owned() });
            }
            if let Some(code) = uri.strip_prefix(PRINCIPAL_URN) {
                let school = code.parse().map_err(|e| PkiError::NoIdentity(format!("{e}")))?;
                return Ok(Identity::Principal { school });
            }
        }
    }
    Err(PkiError::NoIdentity("no urn:yanpei: URI in subjectAltName".into()))
}

/// The serial number of a DER certificate (big-endian bytes, no leading zero).
pub fn serial_of(der: &[u8]) -> Result<Vec<u8>, PkiError> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| PkiError::NoIdentity(format!("unreadable certificate: {e}")))?;
    Ok(cert.tbs_certificate.serial.to_bytes_be())
}

/// Serial numbers revoked by a CRL (PEM), after checking it is signed by the CA (PEM).
pub fn revoked_serials(crl_pem: &str, ca_pem: &str) -> Result<std::collections::BTreeSet<Vec<u8>>, PkiError> {
    use x509_parser::prelude::{CertificateRevocationList, parse_x509_pem};
    let bad = |what: &str, e: String| PkiError::NoIdentity(format!("{what}: {e}"));
    let (_, crl_block) =
        parse_x509_pem(crl_pem.as_bytes()).map_err(|e| bad("CRL is not PEM", e.to_string()))?;
    let (_, crl) = CertificateRevocationList::from_der(&crl_block.contents)
        .map_err(|e| bad("CRL unreadable", e.to_string()))?;
    let ca_der = pem_to_der(ca_pem)?;
    let (_, ca) = X509Certificate::from_der(&ca_der).map_err(|e| bad("CA unreadable", e.to_string()))?;
    crl.verify_signature(ca.public_key())
        .map_err(|e| bad("CRL not signed by the county CA", e.to_string()))?;
    Ok(crl.iter_revoked_certificates().map(|r| r.raw_serial().to_vec()).map(trim_serial).collect())
}

fn trim_serial(mut s: Vec<u8>) -> Vec<u8> {
    while s.len() > 1 && s[0] == 0 {
        s.remove(0);
    }
    s
}

/// Parses the first certificate of a PEM text into DER.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, PkiError> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| PkiError::NoIdentity(format!("not a PEM certificate: {e}")))?;
    Ok(parsed.contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_and_operator_certificates_carry_their_identity() {
        let ca = CountyCa::generate("测试县").unwrap();
        let school: SchoolCode = "CZ01".parse().unwrap();
        let node = ca.issue_node(&school).unwrap();
        assert_eq!(identity_of(&pem_to_der(&node.cert_pem).unwrap()).unwrap(), Identity::Node { school });
        let op = ca.issue_operator("admin").unwrap();
        assert_eq!(
            identity_of(&pem_to_der(&op.cert_pem).unwrap()).unwrap(),
            Identity::Operator { name: "admin".into() }
        );
        let staff = ca.issue_staff("JY01").unwrap();
        assert_eq!(
            identity_of(&pem_to_der(&staff.cert_pem).unwrap()).unwrap(),
            Identity::Staff { id: "JY01".into() }
        );
        let hub = ca.issue_hub(&[]).unwrap();
        assert!(identity_of(&pem_to_der(&hub.cert_pem).unwrap()).is_err());
    }

    #[test]
    fn a_crl_names_revoked_serials_and_must_be_signed_by_the_ca() {
        let ca = CountyCa::generate("测试县").unwrap();
        let node = ca.issue_node(&"S1".parse().unwrap()).unwrap();
        let serial = serial_of(&pem_to_der(&node.cert_pem).unwrap()).unwrap();
        let crl = ca.crl_pem(std::slice::from_ref(&serial), 1, 30).unwrap();
        let revoked = revoked_serials(&crl, ca.cert_pem()).unwrap();
        assert!(revoked.contains(&trim_serial(serial)));
        let other = CountyCa::generate("别的县").unwrap();
        assert!(revoked_serials(&crl, other.cert_pem()).is_err(), "a CRL from another CA is refused");
    }

    #[test]
    fn save_and_load_round_trip_and_refuse_overwrite() {
        let dir = std::env::temp_dir().join(format!("yanpei-pki-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let ca = CountyCa::generate("测试县").unwrap();
        ca.save(&dir).unwrap();
        assert!(matches!(ca.save(&dir), Err(PkiError::Exists(_))));
        let loaded = CountyCa::load(&dir).unwrap();
        assert_eq!(loaded.cert_pem(), ca.cert_pem());
        let key = fs::read_to_string(dir.join("ca.key")).unwrap();
        assert!(CountyCa::from_pems(ca.cert_pem(), &key).is_ok());
        let other = CountyCa::generate("别的县").unwrap();
        assert!(CountyCa::from_pems(other.cert_pem(), &key).is_err(), "a key of another CA");
        loaded.issue_node(&"X1".parse().unwrap()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join("ca.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "the CA key is readable by others: {mode:o}");
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
