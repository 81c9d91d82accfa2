//! A small HTTPS/1.1 client for the dashboard's port: one request per connection,
//! verified against the world's CA, every header and the raw body (not decompressed,
//! so a test sees what went over the wire).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use yanpei_demo::DemoWorld;
use yanpei_pki::HUB_DNS_NAME;

/// An answer as it came over the wire.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Every header, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body after de-chunking, still compressed if it was.
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("JSON body ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The session cookie `Set-Cookie` gave, as `name=value`.
    pub fn session_cookie(&self) -> Option<String> {
        self.header("set-cookie").and_then(|c| c.split(';').next()).map(str::to_owned)
    }
}

/// Talks to a dashboard over HTTPS, as a browser at `https://HUB_DNS_NAME:PORT` would.
#[derive(Clone)]
pub struct WebClient {
    addr: SocketAddr,
    tls: TlsConnector,
}

impl WebClient {
    /// A client of the dashboard at `addr`, trusting the world's CA.
    pub fn new(w: &DemoWorld, addr: SocketAddr) -> WebClient {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(w.ca.cert_pem().as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = ClientConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        WebClient { addr, tls: TlsConnector::from(Arc::new(config)) }
    }

    /// This dashboard's origin, as its own pages send it.
    pub fn origin(&self) -> String {
        format!("https://{}", self.host())
    }

    fn host(&self) -> String {
        format!("{HUB_DNS_NAME}:{}", self.addr.port())
    }

    /// A GET with extra headers.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", path, headers, b"").await
    }

    /// A POST of a JSON body from the dashboard's own page (Origin and Sec-Fetch-Site same-origin).
    pub async fn post_json(&self, path: &str, cookie: Option<&str>, body: &serde_json::Value) -> Reply {
        let origin = self.origin();
        let mut headers = vec![
            ("content-type", "application/json"),
            ("origin", origin.as_str()),
            ("sec-fetch-site", "same-origin"),
        ];
        if let Some(c) = cookie {
            headers.push(("cookie", c));
        }
        self.send("POST", path, &headers, body.to_string().as_bytes()).await
    }

    /// Signs in; the session cookie (`name=value`).
    pub async fn login(&self, user: &str, password: &str) -> String {
        let r = self
            .post_json("/api/login", None, &serde_json::json!({"username": user, "password": password}))
            .await;
        assert_eq!(r.status, 200, "login {user}: {}", String::from_utf8_lossy(&r.body));
        r.session_cookie().expect("a session cookie")
    }

    /// One request on its own connection.
    pub async fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let name = ServerName::try_from(HUB_DNS_NAME).unwrap();
        let mut tls = self.tls.connect(name, tcp).await.unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
            self.host(),
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.write_all(body).await.unwrap();
        tls.flush().await.unwrap();
        let mut raw = Vec::new();
        // The server may close without close_notify once it has answered.
        if let Err(e) = tls.read_to_end(&mut raw).await {
            assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "reading the answer: {e}");
        }
        parse(&raw)
    }
}

fn parse(raw: &[u8]) -> Reply {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete header");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked")) {
        body = dechunk(&body);
    }
    Reply { status, headers, body }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).unwrap();
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
