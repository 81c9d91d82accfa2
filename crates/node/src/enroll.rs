//! A node gets its certificate without anyone carrying key files: it makes its key pair
//! here, checks the hub's CA against the fingerprint on the enrollment slip, and sends a
//! certificate request with the one-time code; later it renews during a nightly sync.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::{
    self, DigitallySignedStruct, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    pki_types::{CertificateDer, ServerName, UnixTime},
};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tracing::info;
use uuid::Uuid;
use yanpei_pki::{
    DEFAULT_RENEW_WITHIN_DAYS, der_to_pem, fingerprint, fingerprint_matches, node_request, pem_to_der,
    renewal_due, validity_of,
};
use yanpei_proto::pb::{self, enroll_service_client::EnrollServiceClient};

use yanpei_pki::TlsMaterial;

use crate::NodeError;

/// When and how a node renews its certificate during a sync.
#[derive(Clone)]
pub struct Renewal {
    /// Renew once fewer than this many days of the certificate remain.
    pub window_days: i64,
    /// The clock the window is judged by (Unix seconds); tests inject one.
    pub now: Arc<dyn Fn() -> i64 + Send + Sync>,
    /// Where the certificate and key live, rewritten on renewal (`None`: kept in memory).
    pub files: Option<(PathBuf, PathBuf)>,
}

impl std::fmt::Debug for Renewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewal").field("window_days", &self.window_days).field("files", &self.files).finish()
    }
}

impl Renewal {
    /// The default window, the system clock, and the files at `cert` and `key`.
    pub fn at(cert: PathBuf, key: PathBuf) -> Renewal {
        Renewal {
            window_days: DEFAULT_RENEW_WITHIN_DAYS,
            now: Arc::new(|| chrono::Utc::now().timestamp()),
            files: Some((cert, key)),
        }
    }
}

/// What the hub answered an enrollment.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The school the code enrolled.
    pub school: yanpei_domain::SchoolCode,
    /// Its name on the roster.
    pub school_name: String,
    /// The county CA, this node's new certificate and its key (made here).
    pub tls: TlsMaterial,
}

/// Reads the county CA certificate from the hub's TLS chain and checks it against
/// `expected` (the slip's SHA-256 fingerprint). Without a fingerprint the CA is trusted on
/// first use, and its fingerprint is returned for the school to compare with the slip.
/// Returns (CA PEM, its fingerprint).
pub async fn fetch_ca(
    url: &str,
    server_name: &str,
    expected: Option<&str>,
) -> Result<(String, String), NodeError> {
    let uri: tonic::codegen::http::Uri =
        url.parse().map_err(|e| NodeError::Config(format!("中心地址「{url}」无效：{e}")))?;
    let host = uri.host().ok_or_else(|| NodeError::Config(format!("中心地址「{url}」缺少主机名")))?;
    let port = uri.port_u16().unwrap_or(443);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| NodeError::Config(format!("TLS：{e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ReadChain(provider)))
        .with_no_client_auth();
    let name = ServerName::try_from(server_name.to_owned())
        .map_err(|e| NodeError::Config(format!("中心证书名称「{server_name}」无效：{e}")))?;
    let connect = async {
        let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)).await?;
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await
    };
    let tls = tokio::time::timeout(Duration::from_secs(15), connect)
        .await
        .map_err(|_| NodeError::Transport(format!("连接县中心 {url} 超时：网络不通，或被防火墙拦截")))?
        .map_err(|e| NodeError::Transport(crate::reach::explain(url, server_name, &e)))?;
    let chain: Vec<String> = tls
        .get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| der_to_pem(c.as_ref()))
        .collect();
    let mut with_print = chain.iter().filter_map(|pem| fingerprint(pem).ok().map(|f| (pem.clone(), f)));
    let found = match expected {
        Some(want) => with_print.into_iter().find(|(_, f)| fingerprint_matches(want, f)),
        // The CA ends the chain (the hub sends it for enrollment).
        None => with_print.next_back(),
    };
    found.ok_or_else(|| {
        NodeError::Config(
            "中心出示的证书链中没有与注册单上指纹一致的县 CA 证书：请核对中心地址和指纹，切勿继续".into(),
        )
    })
}

/// Sends the enrollment `code` with a certificate request for `node_id` to the hub at `url`,
/// verified against `ca_pem`. The private key is made here and never sent.
pub async fn enroll(
    url: &str,
    server_name: &str,
    ca_pem: &str,
    code: &str,
    node_id: Uuid,
) -> Result<Enrolled, NodeError> {
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem)).domain_name(server_name);
    let channel = Endpoint::from_shared(url.to_owned())
        .map_err(|e| NodeError::Config(format!("中心地址「{url}」无效：{e}")))?
        .tls_config(tls)
        .map_err(|e| NodeError::Config(format!("TLS 配置无效：{e}")))?
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(60))
        .connect()
        .await
        .map_err(|e| NodeError::Transport(crate::reach::explain(url, server_name, &e)))?;
    let (csr_pem, key_pem) =
        node_request(&node_id.to_string()).map_err(|e| NodeError::Config(e.to_string()))?;
    let reply = EnrollServiceClient::new(channel)
        .enroll(pb::EnrollRequest { code: code.to_owned(), node_id: node_id.to_string(), csr_pem })
        .await?
        .into_inner();
    let school = reply
        .school_code
        .parse()
        .map_err(|e| NodeError::Hub(tonic::Status::internal(format!("中心返回的学校代码无效：{e}"))))?;
    Ok(Enrolled {
        school,
        school_name: reply.school_name,
        tls: TlsMaterial { ca_pem: reply.ca_pem, cert_pem: reply.cert_pem, key_pem },
    })
}

/// During a sync: renews the certificate `tls` of node `node_id` over `channel` if its
/// renewal window has come (a new key each time): the new material, or `None` when not
/// due. The old certificate keeps working until it expires or is revoked, so a failed
/// renewal only waits for the next night.
pub(crate) async fn renew_if_due(
    r: &Renewal,
    tls: TlsMaterial,
    node_id: uuid::Uuid,
    channel: Channel,
) -> Result<Option<TlsMaterial>, NodeError> {
    let v = pem_to_der(&tls.cert_pem)
        .and_then(|d| validity_of(&d))
        .map_err(|e| NodeError::Config(format!("本节点证书无法读取：{e}")))?;
    if !renewal_due(v, (r.now)(), r.window_days) {
        return Ok(None);
    }
    let (csr_pem, key_pem) =
        node_request(&node_id.to_string()).map_err(|e| NodeError::Config(e.to_string()))?;
    let reply = EnrollServiceClient::new(channel).renew(pb::RenewRequest { csr_pem }).await?.into_inner();
    let new = TlsMaterial { ca_pem: tls.ca_pem, cert_pem: reply.cert_pem, key_pem };
    if let Some((cert, key)) = &r.files {
        save_pair(cert, key, &new)?;
    }
    info!(days_left = v.days_left((r.now)()), "node certificate renewed");
    Ok(Some(new))
}

/// Writes a certificate and its key beside the old ones, then renames them over: the key
/// first, the certificate last.
pub fn save_pair(cert: &Path, key: &Path, tls: &TlsMaterial) -> Result<(), NodeError> {
    let io = |p: &Path, e: std::io::Error| NodeError::Config(format!("{}: {e}", p.display()));
    let with_new = |p: &Path| {
        let mut s = p.as_os_str().to_owned();
        s.push(".new");
        PathBuf::from(s)
    };
    let (cert_new, key_new) = (with_new(cert), with_new(key));
    {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&key_new).map_err(|e| io(&key_new, e))?;
        f.write_all(tls.key_pem.as_bytes()).and_then(|()| f.sync_all()).map_err(|e| io(&key_new, e))?;
    }
    std::fs::write(&cert_new, &tls.cert_pem).map_err(|e| io(&cert_new, e))?;
    std::fs::rename(&key_new, key).map_err(|e| io(key, e))?;
    std::fs::rename(&cert_new, cert).map_err(|e| io(cert, e))?;
    Ok(())
}

/// Accepts any chain only to read it: nothing is sent on this connection, and the CA it
/// carries is trusted only if its fingerprint matches the slip.
#[derive(Debug)]
struct ReadChain(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for ReadChain {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
