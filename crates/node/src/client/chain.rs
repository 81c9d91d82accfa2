//! The county CA as the hub's TLS chain shows it: read before a node has any certificate,
//! trusted only if it matches the fingerprint on the enrollment slip.

use std::sync::Arc;

use tokio_rustls::rustls::{
    self, DigitallySignedStruct, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    pki_types::{CertificateDer, ServerName, UnixTime},
};
use yanpei_pki::{der_to_pem, fingerprint, fingerprint_matches};

use super::CONNECT_TIMEOUT;
use crate::NodeError;

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
    let tls = tokio::time::timeout(CONNECT_TIMEOUT, connect)
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
