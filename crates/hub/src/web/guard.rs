//! What every dashboard request passes before its handler: a request that changes
//! something (anything but GET and HEAD: signing in and out today) must come from the
//! dashboard's own pages and carry a JSON body; every answer over HTTPS tells the
//! browser to use HTTPS only (HSTS).
//!
//! Another site can make a signed-in person's browser send a `<form>` POST (plain,
//! multipart or `text/plain`) without asking; it cannot send `application/json`
//! without the hub's consent (CORS preflight, which the hub never grants), and the
//! browser names where the request came from (`Sec-Fetch-Site`, `Origin`). A request
//! naming neither is not from a browser page (the CLI, curl) and is let through.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::Web;
use super::api::audit;
use super::reply::json;

/// One year: the browser then uses HTTPS for the hub without trying HTTP first.
pub(super) const HSTS: &str = "max-age=31536000";

/// Why a state-changing request is refused before its handler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// It came from another site's page (or from a page whose origin is hidden).
    CrossSite,
    /// Its body is not declared JSON (a form or `text/plain`).
    NotJson,
}

impl Refusal {
    fn status(self) -> StatusCode {
        match self {
            Refusal::CrossSite => StatusCode::FORBIDDEN,
            Refusal::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::CrossSite => "拒绝来自其他网站的请求",
            Refusal::NotJson => "请求内容须为 JSON（application/json）",
        }
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap_or("\u{0}"))
}

/// Whether the request came from the dashboard's own pages (or from no browser page at all).
fn same_origin(headers: &HeaderMap, secure: bool) -> bool {
    // Sent by every current browser: only the hub's own pages and typed-in navigation pass.
    if let Some(site) = header_str(headers, &header::HeaderName::from_static("sec-fetch-site"))
        && !matches!(site.to_ascii_lowercase().as_str(), "same-origin" | "none")
    {
        return false;
    }
    let Some(origin) = header_str(headers, &header::ORIGIN) else {
        return true;
    };
    let Some(host) = header_str(headers, &header::HOST) else {
        return false;
    };
    let scheme = if secure { "https" } else { "http" };
    origin.eq_ignore_ascii_case(&format!("{scheme}://{host}"))
}

/// Whether the body is declared `application/json` (parameters such as a charset allowed).
fn is_json(headers: &HeaderMap) -> bool {
    header_str(headers, &header::CONTENT_TYPE)
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// The decision for one request: reads (GET, HEAD) always pass; a write must come from
/// the hub's own pages, then be JSON.
pub(super) fn check(method: &Method, headers: &HeaderMap, secure: bool) -> Result<(), Refusal> {
    if matches!(*method, Method::GET | Method::HEAD) {
        return Ok(());
    }
    if !same_origin(headers, secure) {
        return Err(Refusal::CrossSite);
    }
    if !is_json(headers) {
        return Err(Refusal::NotJson);
    }
    Ok(())
}

/// The middleware: refuses what [`check`] refuses (auditing it), and adds HSTS over HTTPS.
pub(super) async fn guard(State(web): State<Web>, req: Request, next: Next) -> Response {
    let mut res = match check(req.method(), req.headers(), web.secure) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            let rpc = format!("{} {}", req.method(), req.uri().path().chars().take(64).collect::<String>());
            let code = match refusal {
                Refusal::CrossSite => tonic::Code::PermissionDenied,
                Refusal::NotJson => tonic::Code::InvalidArgument,
            };
            tracing::warn!(%rpc, ?refusal, "dashboard write refused");
            audit(&web, "（无身份）".into(), &rpc, Vec::new(), 0, code as i32).await;
            json(refusal.status(), &serde_json::json!({ "error": refusal.message() }))
        }
    };
    if web.secure {
        res.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    const HOST: (&str, &str) = ("host", "hub.example:8443");
    const JSON: (&str, &str) = ("content-type", "application/json");

    #[test]
    fn writes_from_other_sites_or_not_in_json_are_refused() {
        let post = Method::POST;
        type Case<'a> = (&'a [(&'a str, &'a str)], Result<(), Refusal>);
        let cases: &[Case] = &[
            // The dashboard's own script.
            (
                &[HOST, JSON, ("origin", "https://hub.example:8443"), ("sec-fetch-site", "same-origin")],
                Ok(()),
            ),
            (&[HOST, ("content-type", "Application/JSON; charset=utf-8")], Ok(())),
            // The CLI or curl: no browser page, no Origin.
            (&[HOST, JSON], Ok(())),
            // Another site's form, however it is encoded.
            (
                &[
                    HOST,
                    ("content-type", "text/plain"),
                    ("origin", "https://evil.example"),
                    ("sec-fetch-site", "cross-site"),
                ],
                Err(Refusal::CrossSite),
            ),
            (&[HOST, JSON, ("origin", "https://evil.example")], Err(Refusal::CrossSite)),
            (&[HOST, JSON, ("sec-fetch-site", "cross-site")], Err(Refusal::CrossSite)),
            (&[HOST, JSON, ("sec-fetch-site", "same-site")], Err(Refusal::CrossSite)),
            (&[HOST, JSON, ("origin", "null")], Err(Refusal::CrossSite)),
            // Same host over plain HTTP is another origin.
            (&[HOST, JSON, ("origin", "http://hub.example:8443")], Err(Refusal::CrossSite)),
            (&[JSON, ("origin", "https://hub.example:8443")], Err(Refusal::CrossSite)),
            // Our own origin, but not JSON: a form cannot be the dashboard's script.
            (
                &[HOST, ("content-type", "text/plain"), ("origin", "https://hub.example:8443")],
                Err(Refusal::NotJson),
            ),
            (&[HOST, ("content-type", "application/x-www-form-urlencoded")], Err(Refusal::NotJson)),
            (&[HOST, ("content-type", "multipart/form-data; boundary=x")], Err(Refusal::NotJson)),
            (&[HOST, ("content-type", "application/jsonx")], Err(Refusal::NotJson)),
            (&[HOST], Err(Refusal::NotJson)),
        ];
        for (pairs, want) in cases {
            assert_eq!(check(&post, &headers(pairs), true), *want, "{pairs:?}");
        }
        // Reads are never refused here (they change nothing; the cookie is SameSite=Strict).
        let cross = headers(&[HOST, ("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")]);
        assert_eq!(check(&Method::GET, &cross, true), Ok(()));
        assert_eq!(check(&Method::DELETE, &cross, true), Err(Refusal::CrossSite));
        // Over plain HTTP (development) the page's origin is http://.
        let dev = headers(&[HOST, JSON, ("origin", "http://hub.example:8443")]);
        assert_eq!(check(&post, &dev, false), Ok(()));
    }
}
