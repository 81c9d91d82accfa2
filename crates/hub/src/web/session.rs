//! Signing in and out of the dashboard. The session is the account's short-lived
//! signed token (`crate::accounts`) in an HttpOnly, SameSite=Strict cookie, so
//! page scripts cannot read it and other sites cannot send it. Signing out revokes
//! the token in the store (`Accounts::logout`), so a copy of the old cookie is
//! refused from then on, not only forgotten by this browser.

use super::Web;
use super::reply::{Failure, json};
use crate::HubError;
use crate::accounts::Caller;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

/// The cookie's name.
pub(super) const COOKIE: &str = "yanpei_session";

/// The session token from the request's cookie, if any.
fn token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// Who is asking: the account the cookie's token names, if it is valid and the account enabled.
pub(super) async fn caller(web: &Web, headers: &HeaderMap) -> Result<Caller, HubError> {
    let token = token(headers).ok_or_else(|| HubError::Unauthenticated("请先登录".into()))?;
    web.accounts.verify(token).await
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

fn cookie(web: &Web, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if web.secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

pub(super) async fn login(State(web): State<Web>, body: Bytes) -> Response {
    let form: LoginForm = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(_) => {
            return Failure::from(HubError::InvalidArgument("请填写用户名和密码".into())).into_response();
        }
    };
    // Accounts audits every attempt and locks out repeated failures.
    match web.accounts.login(&form.username, &form.password).await {
        Ok(session) => {
            let max_age = (session.expires_at - chrono::Utc::now()).num_seconds().max(0);
            let mut res = json(
                StatusCode::OK,
                &serde_json::json!({ "name": session.display_name, "expires_at": session.expires_at.to_rfc3339() }),
            );
            if let Some(c) = cookie(&web, &session.token, max_age) {
                res.headers_mut().insert(header::SET_COOKIE, c);
            }
            res
        }
        Err(e) => Failure::from(e).into_response(),
    }
}

pub(super) async fn logout(State(web): State<Web>, headers: HeaderMap) -> Response {
    // Whatever happens, this browser forgets the cookie.
    let mut res = match token(&headers) {
        None => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
        Some(t) => match web.accounts.logout(t).await {
            Ok(_) => json(StatusCode::OK, &serde_json::json!({ "ok": true })),
            Err(e) => Failure::from(e).into_response(),
        },
    };
    if let Some(c) = cookie(&web, "", 0) {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_found_among_other_cookies() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; yanpei_session=abc.def ; b=2"));
        assert_eq!(token(&h), Some("abc.def"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("yanpei_session="));
        assert_eq!(token(&h), None);
        assert_eq!(token(&HeaderMap::new()), None);
    }
}
