//! Why the hub could not be reached, in Chinese: the one reading of a failed connection
//! (a `tonic` transport error, or a status a cut connection produced) shared by the node
//! agent, enrollment and the CLI's queries. The transport's own words (English) go to
//! the debug log, never to the person.

use std::error::Error;

use tokio_rustls::rustls::{self, CertificateError};

/// What went wrong on the way to the hub, as far as the error tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// The hub's host name does not resolve.
    NoSuchHost,
    /// Nothing listens at the address (connection refused).
    Refused,
    /// No answer in time (network down, a firewall dropping packets).
    TimedOut,
    /// The hub's certificate is not signed by the county CA this side trusts.
    UntrustedHub,
    /// The hub's certificate does not carry the name this side checks.
    NameMismatch,
    /// The hub's certificate has expired or is not valid yet.
    HubCertExpired,
    /// The hub refused the TLS handshake: this side's certificate is not one it accepts
    /// (another county's CA, revoked, expired).
    RefusedByHub,
    /// The hub closed the connection (a broken pipe, a reset, hyper's "connection closed"):
    /// under TLS 1.3 a refused client certificate often ends so, right after the handshake
    /// (the hub's alert is not read in time), and so does a connection cut.
    ClosedAfterHandshake,
    /// Another TLS failure.
    Tls,
    /// None of the above.
    Other,
}

/// Reads `err` and its causes (including what an `io::Error` wraps).
pub fn classify(err: &(dyn Error + 'static)) -> Unreachable {
    let causes = causes(err);
    // TLS first: its errors travel inside I/O errors of other kinds.
    if let Some(tls) = causes.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return match tls {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    Unreachable::NameMismatch
                }
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => Unreachable::HubCertExpired,
                _ => Unreachable::UntrustedHub,
            },
            rustls::Error::AlertReceived(_) => Unreachable::RefusedByHub,
            _ => Unreachable::Tls,
        };
    }
    for e in &causes {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return Unreachable::Refused,
                std::io::ErrorKind::TimedOut => return Unreachable::TimedOut,
                std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted => return Unreachable::ClosedAfterHandshake,
                _ => {}
            }
        }
        // hyper-util's connector names a failed lookup so (its error type is private).
        let text = e.to_string();
        if text == "dns error" || text.starts_with("failed to lookup address information") {
            return Unreachable::NoSuchHost;
        }
        // A TLS error read off an established connection arrives as text only
        // ("received fatal alert: UnknownCA": the hub refused this side's certificate).
        if let Some(kind) = tls_text(&text) {
            return kind;
        }
        if text.contains("timed out") {
            return Unreachable::TimedOut;
        }
        // hyper's words for a connection that closed before (or as) the first call went out.
        if text.contains("connection was not ready") || text == "connection closed" {
            return Unreachable::ClosedAfterHandshake;
        }
    }
    Unreachable::Other
}

/// A rustls error as its text reads (rustls's own `Display`).
fn tls_text(text: &str) -> Option<Unreachable> {
    if text.contains("received fatal alert") {
        return Some(Unreachable::RefusedByHub);
    }
    let cert = text.split_once("invalid peer certificate: ")?.1;
    Some(if cert.starts_with("NotValidForName") || cert.starts_with("certificate not valid for name") {
        Unreachable::NameMismatch
    } else if ["Expired", "NotValidYet", "certificate expired", "certificate not valid yet"]
        .iter()
        .any(|p| cert.starts_with(p))
    {
        Unreachable::HubCertExpired
    } else {
        Unreachable::UntrustedHub
    })
}

/// Whether a call's status came from the connection rather than from the hub: the hub's
/// answers arrive as codes and messages only, a failed connection carries its error.
pub fn is_transport(status: &tonic::Status) -> bool {
    status.source().is_some()
        && matches!(
            status.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal | tonic::Code::Cancelled
        )
}

/// Every cause of `err`, outermost first; an `io::Error`'s wrapped error included
/// (its `source()` skips it).
fn causes<'a>(err: &'a (dyn Error + 'static)) -> Vec<&'a (dyn Error + 'static)> {
    let mut out: Vec<&'a (dyn Error + 'static)> = Vec::new();
    let mut todo = vec![err];
    while let Some(e) = todo.pop() {
        if out.len() > 32 {
            break;
        }
        out.push(e);
        if let Some(next) = e.source() {
            todo.push(next);
        }
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            todo.push(inner);
        }
    }
    out
}

/// One sentence saying why the hub at `url` (checked under the name `server_name`) could
/// not be reached and what to check, for whoever runs the command.
pub fn explain(url: &str, server_name: &str, err: &(dyn Error + 'static)) -> String {
    tracing::debug!(%url, error = ?err, "connection to the hub failed");
    describe(Some((url, server_name)), classify(err))
}

/// [`explain`] where the address is not at hand (a call's status read far from its channel).
pub fn explain_unaddressed(err: &(dyn Error + 'static)) -> String {
    tracing::debug!(error = ?err, "connection to the hub failed");
    describe(None, classify(err))
}

fn describe(hub: Option<(&str, &str)>, why: Unreachable) -> String {
    let at = hub.map_or_else(|| "县中心".to_owned(), |(url, _)| format!("县中心 {url}"));
    match why {
        Unreachable::NoSuchHost => {
            let host = hub.map_or_else(String::new, |(url, _)| format!("「{}」", host_of(url)));
            format!(
                "无法解析县中心地址{host}：域名不存在，或本机的 DNS 不可用；请核对 --hub 的地址（可改用 IP 地址）"
            )
        }
        Unreachable::Refused => format!(
            "{at} 拒绝连接：该地址上没有中心程序在运行，或端口不对；请核对 --hub 的端口，或请县进修学校确认中心已启动"
        ),
        Unreachable::TimedOut => format!("连接{at} 超时：网络不通，或被防火墙拦截；请检查网络后重试"),
        Unreachable::UntrustedHub => format!(
            "TLS 握手失败：{at} 出示的证书不是本县 CA 签发的；请核对 --hub 是否为本县中心，以及 CA 证书（ca.pem）是否为本县的"
        ),
        Unreachable::NameMismatch => {
            let name = hub.map_or_else(|| "所核对的名称".to_owned(), |(_, name)| format!("名称「{name}」"));
            format!(
                "证书名称不符：{at} 的证书不包含{name}；请用 --server-name 指定中心证书上的名称\
                 （中心证书默认含 hub.yanpei.internal、localhost、127.0.0.1，以及 yanpei ca issue-hub --name 给出的名称）"
            )
        }
        Unreachable::HubCertExpired => {
            format!("TLS 握手失败：{at} 的证书已过期或尚未生效；请县进修学校更新中心证书（或核对本机时间）")
        }
        Unreachable::RefusedByHub => {
            "TLS 握手被县中心拒绝：中心不接受本机的证书（不是本县 CA 签发的、已吊销或已过期）；\
             请核对证书文件，或请县进修学校重新签发"
                .to_owned()
        }
        Unreachable::ClosedAfterHandshake => format!(
            "{at} 断开了连接：刚连上就断开，多半是中心不接受本机的证书（不是本县 CA 签发的、已吊销或已过期），\
             也可能是网络中断；请核对证书文件后重试，仍不行请县进修学校重新签发"
        ),
        Unreachable::Tls => format!("与{at} 的 TLS 握手失败；请核对证书文件和 --hub 地址"),
        Unreachable::Other => format!("与{at} 的连接失败；请检查网络和 --hub 地址后重试"),
    }
}

/// The host part of `https://HOST:PORT/…`.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a fixed text and an optional cause, as a connector's would be.
    #[derive(Debug)]
    struct Wrap(&'static str, Option<Box<dyn Error + Send + Sync>>);

    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Wrap {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_ref().map(|e| &**e as _)
        }
    }

    fn transport(cause: impl Error + Send + Sync + 'static) -> Wrap {
        Wrap("transport error", Some(Box::new(cause)))
    }

    fn tls_io(e: rustls::Error) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }

    #[test]
    fn connection_failures_are_told_apart() {
        let dns = || {
            transport(Wrap(
                "dns error",
                Some(Box::new(std::io::Error::other(
                    "failed to lookup address information: Name or service not known",
                ))),
            ))
        };
        let refused = || {
            transport(Wrap(
                "tcp connect error",
                Some(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused))),
            ))
        };
        let cert = |c: CertificateError| transport(tls_io(rustls::Error::InvalidCertificate(c)));
        // (error, what it is)
        let table: Vec<(Wrap, Unreachable)> = vec![
            (dns(), Unreachable::NoSuchHost),
            (refused(), Unreachable::Refused),
            (transport(std::io::Error::from(std::io::ErrorKind::TimedOut)), Unreachable::TimedOut),
            (cert(CertificateError::UnknownIssuer), Unreachable::UntrustedHub),
            (cert(CertificateError::BadSignature), Unreachable::UntrustedHub),
            (cert(CertificateError::NotValidForName), Unreachable::NameMismatch),
            (cert(CertificateError::Expired), Unreachable::HubCertExpired),
            (
                transport(tls_io(rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate))),
                Unreachable::RefusedByHub,
            ),
            (
                transport(tls_io(rustls::Error::AlertReceived(rustls::AlertDescription::UnknownCA))),
                Unreachable::RefusedByHub,
            ),
            (transport(tls_io(rustls::Error::DecryptError)), Unreachable::Tls),
            (transport(Wrap("connection reset", None)), Unreachable::Other),
            // The hub's alert not read in time: the connection closed before HTTP/2 was ready.
            (transport(Wrap("connection was not ready", None)), Unreachable::ClosedAfterHandshake),
            (transport(Wrap("connection closed", None)), Unreachable::ClosedAfterHandshake),
            (
                transport(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "stream closed because of a broken pipe",
                )),
                Unreachable::ClosedAfterHandshake,
            ),
            // Read off an established connection, a TLS error is text inside an I/O error.
            (
                transport(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "received fatal alert: UnknownCA",
                )),
                Unreachable::RefusedByHub,
            ),
            (transport(Wrap("invalid peer certificate: UnknownIssuer", None)), Unreachable::UntrustedHub),
            (transport(Wrap("invalid peer certificate: NotValidForName", None)), Unreachable::NameMismatch),
            (transport(Wrap("invalid peer certificate: Expired", None)), Unreachable::HubCertExpired),
        ];
        for (err, want) in table {
            assert_eq!(classify(&err), want, "{err:?}");
        }
    }

    #[test]
    fn the_reasons_are_chinese_and_name_what_to_check() {
        let dns = transport(Wrap("dns error", None));
        let text = explain("https://hub.example.invalid:7443", "hub.yanpei.internal", &dns);
        assert!(text.contains("无法解析") && text.contains("hub.example.invalid"), "{text}");
        assert!(!text.contains(":7443"), "the host alone: {text}");
        let name = transport(tls_io(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)));
        let text = explain("https://127.0.0.1:7443", "hub.other", &name);
        assert!(text.contains("证书名称不符") && text.contains("hub.other"), "{text}");
        assert!(!text.contains("transport"), "{text}");
    }

    #[test]
    fn hosts_are_read_from_urls() {
        for (url, host) in [
            ("https://hub.example.edu.cn:7443", "hub.example.edu.cn"),
            ("https://hub.example.edu.cn", "hub.example.edu.cn"),
            ("https://127.0.0.1:7443/", "127.0.0.1"),
            ("hub:7443", "hub"),
        ] {
            assert_eq!(host_of(url), host);
        }
    }
}
