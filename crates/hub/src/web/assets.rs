//! The page and everything it loads, compiled into the hub: nothing comes from
//! outside, which the Content-Security-Policy on every response also enforces.

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

fn with_headers(content_type: &'static str, body: impl IntoResponse, cache: bool) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let cache = if cache { "public, max-age=3600" } else { "no-store" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

pub(super) async fn index() -> Response {
    with_headers("text/html; charset=utf-8", INDEX, false)
}

pub(super) async fn asset(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "echarts.min.js" => with_headers("text/javascript; charset=utf-8", ECHARTS, true),
        "app.js" => with_headers("text/javascript; charset=utf-8", APP_JS, false),
        "app.css" => with_headers("text/css; charset=utf-8", APP_CSS, false),
        _ => not_found().await,
    }
}

pub(super) async fn not_found() -> Response {
    with_headers("text/plain; charset=utf-8", (StatusCode::NOT_FOUND, "页面不存在"), false)
}

/// A JSON or workbook answer with the same security headers as the page.
pub(super) fn respond(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    with_headers(content_type, (status, body), false)
}
