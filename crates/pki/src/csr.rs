//! Certificates made from a request (CSR): the node generates its key pair and sends only
//! the request, so the private key never leaves the school. Also what a certificate says
//! about its own life (validity, the node id bound to it) and the pure decision of when a
//! node renews.

use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use yanpei_domain::SchoolCode;

use crate::{CountyCa, NODE_URN, PkiError, pem_to_der};

/// The URI prefix naming the node id a node certificate is bound to
/// (`urn:yanpei:node-id:<uuid>`, beside `urn:yanpei:node:<school>`).
pub const NODE_ID_URN: &str = "urn:yanpei:node-id:";

/// Default life of a node certificate: two years.
pub const DEFAULT_NODE_DAYS: i64 = 730;
/// Default life of a person's (operator, staff) certificate: one year.
pub const DEFAULT_PERSON_DAYS: i64 = 365;
/// Default life of the hub's server certificate: five years.
pub const DEFAULT_HUB_DAYS: i64 = 1825;
/// Life of a new county CA: twenty years.
pub const CA_DAYS: i64 = 7300;
/// A node renews its certificate once fewer than this many days of it remain.
pub const DEFAULT_RENEW_WITHIN_DAYS: i64 = 60;
/// Certificates expiring within this many days are counted in the metrics and warned about.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// How long certificates of each kind live, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// School node agents.
    pub node_days: i64,
    /// Operators and staff (教研员).
    pub person_days: i64,
    /// The hub's server certificate.
    pub hub_days: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            node_days: DEFAULT_NODE_DAYS,
            person_days: DEFAULT_PERSON_DAYS,
            hub_days: DEFAULT_HUB_DAYS,
        }
    }
}

/// When a certificate is valid, as Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// Not before.
    pub not_before: i64,
    /// Not after.
    pub not_after: i64,
}

impl Validity {
    /// Whole days left at `now` (negative once expired).
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }

    /// Whether it expires within `days` of `now` (or already has).
    pub fn expires_within(&self, now: i64, days: i64) -> bool {
        self.not_after - now <= days * 86_400
    }
}

/// Whether a node holding a certificate valid `v` should renew at `now`: once fewer than
/// `window_days` remain, or, for a certificate whose whole life is shorter than three windows,
/// once two thirds of its life have passed. Never for one already expired (the hub would
/// refuse the request: the school enrolls again).
pub fn renewal_due(v: Validity, now: i64, window_days: i64) -> bool {
    if now >= v.not_after || now < v.not_before {
        return false;
    }
    let life = v.not_after - v.not_before;
    let window = (window_days * 86_400).min(life / 3);
    v.not_after - now <= window
}

/// A fresh key pair and a certificate request for node `node_id`: the key stays here; the
/// request (PEM) goes to the hub, which decides the school and every name in the certificate.
/// Returns (request, key).
pub fn node_request(node_id: &str) -> Result<(String, String), PkiError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, format!("node {node_id}"));
    params.subject_alt_names.push(SanType::URI(format!("{NODE_ID_URN}{node_id}").try_into()?));
    let csr = params.serialize_request(&key)?;
    Ok((csr.pem()?, key.serialize_pem()))
}

impl CountyCa {
    /// Signs a node's certificate request for `school` and `node_id`, valid from an hour
    /// before `now` (clock skew) for `days`. Only the request's public key is used: the
    /// names, usages and validity are the CA's, whatever the request asked for. The
    /// request's own signature is checked (it proves the holder has the key).
    pub fn sign_node_request(
        &self,
        csr_pem: &str,
        school: &SchoolCode,
        node_id: &str,
        now: OffsetDateTime,
        days: i64,
    ) -> Result<String, PkiError> {
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| PkiError::BadRequest(format!("证书请求无法读取或签名不符：{e}")))?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, format!("node {school}"));
        params.subject_alt_names.push(SanType::URI(format!("{NODE_URN}{school}").try_into()?));
        params.subject_alt_names.push(SanType::URI(format!("{NODE_ID_URN}{node_id}").try_into()?));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.use_authority_key_identifier_extension = true;
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(days.max(1));
        params.serial_number = Some(random_serial()?);
        csr.params = params;
        let issuer = Issuer::from_ca_cert_pem(self.cert_pem(), &self.key)?;
        Ok(csr.signed_by(&issuer)?.pem())
    }
}

/// A random 128-bit serial (positive: the top bit clear), so two certificates for one key differ.
pub(crate) fn random_serial() -> Result<rcgen::SerialNumber, PkiError> {
    // A throwaway key's bytes are a CSPRNG draw (rcgen exposes no generator of its own).
    let der = KeyPair::generate()?.serialize_der();
    let mut bytes: Vec<u8> = Sha256::digest(&der)[..16].to_vec();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(rcgen::SerialNumber::from(bytes))
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|e| PkiError::NoIdentity(format!("unreadable certificate: {e}")))
}

/// The node id a (verified, DER) certificate is bound to, if it names one. Certificates
/// issued before enrollment existed name none.
pub fn node_id_of(der: &[u8]) -> Result<Option<String>, PkiError> {
    let cert = parse(der)?;
    let Ok(Some(san)) = cert.subject_alternative_name() else { return Ok(None) };
    Ok(san.value.general_names.iter().find_map(|n| match n {
        GeneralName::URI(uri) => uri.strip_prefix(NODE_ID_URN).map(str::to_owned),
        _ => None,
    }))
}

/// When a DER certificate is valid.
pub fn validity_of(der: &[u8]) -> Result<Validity, PkiError> {
    let cert = parse(der)?;
    let v = cert.validity();
    Ok(Validity { not_before: v.not_before.timestamp(), not_after: v.not_after.timestamp() })
}

/// The SHA-256 fingerprint (lowercase hex) of a PEM certificate's DER: what a school
/// checks the hub's CA against before trusting it.
pub fn fingerprint(pem: &str) -> Result<String, PkiError> {
    Ok(hex(&Sha256::digest(pem_to_der(pem)?)))
}

/// PEM text of a DER certificate.
pub fn der_to_pem(der: &[u8]) -> String {
    use base64ct::Encoding;
    let b64 = base64ct::Base64::encode_string(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `given` (hex, any case, `:`/space/`-` separators allowed) is `fingerprint`.
pub fn fingerprint_matches(given: &str, fingerprint: &str) -> bool {
    let clean: String =
        given.chars().filter(char::is_ascii_hexdigit).collect::<String>().to_ascii_lowercase();
    !clean.is_empty() && clean == fingerprint
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Identity, identity_of, serial_of};

    const DAY: i64 = 86_400;

    #[test]
    fn a_signed_request_carries_school_and_node_id_and_a_bounded_life() {
        let ca = CountyCa::generate("测试县").unwrap();
        let school: SchoolCode = "CZ01".parse().unwrap();
        let (csr, key) = node_request("0190f0f0-0000-7000-8000-000000000001").unwrap();
        assert!(key.contains("PRIVATE KEY"));
        let now = OffsetDateTime::now_utc();
        let pem =
            ca.sign_node_request(&csr, &school, "0190f0f0-0000-7000-8000-000000000001", now, 730).unwrap();
        let der = pem_to_der(&pem).unwrap();
        assert_eq!(identity_of(&der).unwrap(), Identity::Node { school: school.clone() });
        assert_eq!(node_id_of(&der).unwrap().as_deref(), Some("0190f0f0-0000-7000-8000-000000000001"));
        let v = validity_of(&der).unwrap();
        assert!((729..=730).contains(&v.days_left(now.unix_timestamp())), "two years: {v:?}");
        // The CA's names win over what the request asked for.
        let other: SchoolCode = "CZ02".parse().unwrap();
        let pem2 = ca.sign_node_request(&csr, &other, "x", now, 730).unwrap();
        let der2 = pem_to_der(&pem2).unwrap();
        assert_eq!(identity_of(&der2).unwrap(), Identity::Node { school: other });
        assert_ne!(serial_of(&der).unwrap(), serial_of(&der2).unwrap(), "one key, two serials");
    }

    #[test]
    fn a_damaged_request_is_refused() {
        let ca = CountyCa::generate("测试县").unwrap();
        let school: SchoolCode = "CZ01".parse().unwrap();
        let (csr, _) = node_request("n").unwrap();
        let broken = csr.replace('A', "B");
        assert!(ca.sign_node_request(&broken, &school, "n", OffsetDateTime::now_utc(), 1).is_err());
        assert!(ca.sign_node_request("not pem", &school, "n", OffsetDateTime::now_utc(), 1).is_err());
    }

    #[test]
    fn old_certificates_have_no_node_id() {
        let ca = CountyCa::generate("测试县").unwrap();
        let cert = ca.issue_node(&"CZ01".parse().unwrap()).unwrap();
        assert_eq!(node_id_of(&pem_to_der(&cert.cert_pem).unwrap()).unwrap(), None);
    }

    #[test]
    fn renewal_is_due_only_inside_the_window() {
        let v = Validity { not_before: 0, not_after: 730 * DAY };
        assert!(!renewal_due(v, 0, 60));
        assert!(!renewal_due(v, 669 * DAY, 60), "61 days left");
        assert!(renewal_due(v, 670 * DAY, 60), "60 days left");
        assert!(renewal_due(v, 729 * DAY, 60));
        assert!(!renewal_due(v, 730 * DAY, 60), "expired: enroll again");
        assert!(!renewal_due(v, -1, 60), "not yet valid");
        // A short life renews in its last third.
        let short = Validity { not_before: 0, not_after: 30 * DAY };
        assert!(!renewal_due(short, 19 * DAY, 60));
        assert!(renewal_due(short, 20 * DAY, 60));
    }

    #[test]
    fn expiry_counts_whole_days() {
        let v = Validity { not_before: 0, not_after: 40 * DAY };
        assert!(!v.expires_within(9 * DAY, 30));
        assert!(v.expires_within(10 * DAY, 30));
        assert_eq!(v.days_left(41 * DAY), -1);
    }

    #[test]
    fn fingerprints_compare_loosely_in_form_only() {
        let ca = CountyCa::generate("测试县").unwrap();
        let fp = fingerprint(ca.cert_pem()).unwrap();
        assert_eq!(fp.len(), 64);
        let spaced: String = fp
            .to_ascii_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":");
        assert!(fingerprint_matches(&spaced, &fp));
        assert!(!fingerprint_matches(&fp[1..], &fp));
        assert!(!fingerprint_matches("", &fp));
        let der = pem_to_der(ca.cert_pem()).unwrap();
        assert_eq!(pem_to_der(&der_to_pem(&der)).unwrap(), der, "PEM round trip");
    }
}
