//! The page and everything it loads, compiled into the hub: nothing comes from
//! outside, which the Content-Security-Policy on every response also enforces.
//!
//! The page names each asset with its content's hash (`app.1a2b3c4d5e6f.js`), so the
//! browser may keep it for a year without asking again (`immutable`): a new hub build
//! with a changed file names it anew. The page itself is never cached, and an asset
//! asked for by its plain name is revalidated every time.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// ECharts 6.1.0 (Apache-2.0, `assets/ECHARTS-LICENSE`), the minified browser build from npm.
const ECHARTS: &[u8] = include_bytes!("../../assets/echarts.min.js");
const INDEX: &str = include_str!("../../assets/index.html");
const APP_JS: &str = include_str!("../../assets/app.js");
const APP_CSS: &str = include_str!("../../assets/app.css");

/// Only the hub itself: scripts, styles, data and images. ECharts sets inline styles
/// on the elements it draws, hence `'unsafe-inline'` for styles (not for scripts).
pub(super) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// How long a browser may keep an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Caching {
    /// Never stored: the page, data, refusals.
    NoStore,
    /// Stored, but asked about again before each use: an asset by its plain name.
    Revalidate,
    /// Kept a year without asking: an asset by its hashed name, whose content never changes.
    Immutable,
}

impl Caching {
    fn header(self) -> &'static str {
        match self {
            Caching::NoStore => "no-store",
            Caching::Revalidate => "no-cache",
            Caching::Immutable => "public, max-age=31536000, immutable",
        }
    }
}

/// One file the page loads.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 3] = [
    Asset { name: "echarts.min.js", content_type: "text/javascript; charset=utf-8", body: ECHARTS },
    Asset { name: "app.js", content_type: "text/javascript; charset=utf-8", body: APP_JS.as_bytes() },
    Asset { name: "app.css", content_type: "text/css; charset=utf-8", body: APP_CSS.as_bytes() },
];

/// `name` with the first 12 hex digits of `body`'s SHA-256 before its extension.
fn versioned_name(name: &str, body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    let hash: String = digest.as_ref().iter().take(6).map(|b| format!("{b:02x}")).collect();
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{name}.{hash}"),
    }
}

/// Each asset's hashed name, in [`ASSETS`] order, and the page naming them.
struct Versioned {
    names: Vec<String>,
    index: String,
}

fn versioned() -> &'static Versioned {
    static V: OnceLock<Versioned> = OnceLock::new();
    V.get_or_init(|| {
        let names: Vec<String> = ASSETS.iter().map(|a| versioned_name(a.name, a.body)).collect();
        let mut index = INDEX.to_owned();
        for (a, v) in ASSETS.iter().zip(&names) {
            index = index.replace(&format!("\"/assets/{}\"", a.name), &format!("\"/assets/{v}\""));
        }
        Versioned { names, index }
    })
}

/// Which asset `name` asks for and how long it may be kept: the plain name is revalidated,
/// the current hashed name kept for good; anything else (an old hash too) is not found.
fn resolve<'a>(name: &str, hashed: &[String], assets: &'a [Asset]) -> Option<(&'a Asset, Caching)> {
    assets.iter().zip(hashed).find_map(|(a, v)| {
        if name == a.name {
            Some((a, Caching::Revalidate))
        } else if name == v {
            Some((a, Caching::Immutable))
        } else {
            None
        }
    })
}

fn with_headers(content_type: &'static str, body: impl IntoResponse, cache: Caching) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache.header()));
    res
}

pub(super) async fn index() -> Response {
    with_headers("text/html; charset=utf-8", versioned().index.clone(), Caching::NoStore)
}

pub(super) async fn asset(Path(name): Path<String>) -> Response {
    match resolve(&name, &versioned().names, &ASSETS) {
        Some((a, cache)) => with_headers(a.content_type, a.body, cache),
        None => not_found().await,
    }
}

pub(super) async fn not_found() -> Response {
    with_headers("text/plain; charset=utf-8", (StatusCode::NOT_FOUND, "页面不存在"), Caching::NoStore)
}

/// A JSON or workbook answer with the same security headers as the page.
pub(super) fn respond(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    with_headers(content_type, (status, body), Caching::NoStore)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_are_kept_for_good_plain_names_revalidated_old_ones_not_found() {
        let assets = [
            Asset { name: "app.js", content_type: "text/javascript", body: b"one" },
            Asset { name: "echarts.min.js", content_type: "text/javascript", body: b"two" },
        ];
        let hashed: Vec<String> = assets.iter().map(|a| versioned_name(a.name, a.body)).collect();
        // SHA-256("one") begins 7692c3ad3540.
        assert_eq!(hashed[0], "app.7692c3ad3540.js");
        assert!(hashed[1].starts_with("echarts.min.") && hashed[1].ends_with(".js"), "{}", hashed[1]);
        let cases = [
            ("app.js", Some(("app.js", Caching::Revalidate))),
            ("app.7692c3ad3540.js", Some(("app.js", Caching::Immutable))),
            (hashed[1].as_str(), Some(("echarts.min.js", Caching::Immutable))),
            // A hash of other content (an older build) must not be kept as this one.
            ("app.000000000000.js", None),
            ("app.css", None),
            ("../app.js", None),
        ];
        for (name, want) in cases {
            let got = resolve(name, &hashed, &assets).map(|(a, c)| (a.name, c));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn the_page_names_every_asset_by_its_hash() {
        let v = versioned();
        for (a, name) in ASSETS.iter().zip(&v.names) {
            assert!(v.index.contains(&format!("\"/assets/{name}\"")), "{name} in the page");
            assert!(!v.index.contains(&format!("\"/assets/{}\"", a.name)), "{} by its plain name", a.name);
        }
    }
}
