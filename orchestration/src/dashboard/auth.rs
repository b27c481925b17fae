//! Who may use the dashboard: the bearer token (when one is set), its cookie for
//! browsers, and the same-origin rule for POSTs.
//!
//! - With a token, a request passes with `Authorization: Bearer <token>` or with the
//!   cookie [`COOKIE`]; a GET of any page with `?token=<token>` sets that cookie
//!   (`HttpOnly`, `SameSite=Lax`) and redirects to the same page without the token,
//!   so the token does not stay in the address bar or the history. Anything else
//!   gets 401. Tokens are compared in constant time.
//! - A POST that a browser sends from another site (its `Origin` not this host, or
//!   `Sec-Fetch-Site` neither `same-origin` nor `none`) gets 403, token or not;
//!   clients that are not browsers send neither header and are not affected.

use std::collections::BTreeMap;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::html::layout;
use super::state::DashboardState;

/// The cookie that carries the token (hex-encoded). Its name is the dashboard's
/// own: cookies are shared by every port of a host.
pub(crate) const COOKIE: &str = "bankpipe_token";

/// Checks the token and the origin of every request (see the [module](self) docs).
pub(crate) async fn guard(
    State(state): State<DashboardState>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let bearer = state
        .token()
        .is_some_and(|token| has_bearer(headers, token));
    if request.method() == Method::POST && !same_origin(headers) {
        return refuse(
            &request,
            StatusCode::FORBIDDEN,
            "this request comes from another site",
        );
    }
    let Some(token) = state.token() else {
        return next.run(request).await;
    };
    if bearer || has_cookie(headers, token) {
        return next.run(request).await;
    }
    if request.method() == Method::GET
        && let Some(given) = query_token(&request)
        && same(given.as_bytes(), token.as_bytes())
    {
        return remember(&request, token);
    }
    refuse(
        &request,
        StatusCode::UNAUTHORIZED,
        "this dashboard needs its token",
    )
}

/// Whether `Authorization` carries `Bearer <token>`.
fn has_bearer(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.strip_prefix("Bearer "))
        .any(|given| same(given.trim().as_bytes(), token.as_bytes()))
}

/// Whether a `Cookie` header carries [`COOKIE`] with the token.
fn has_cookie(headers: &HeaderMap, token: &str) -> bool {
    let expected = hex(token);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && same(value.as_bytes(), expected.as_bytes()))
}

/// The `token` of the query string, decoded.
fn query_token(request: &Request) -> Option<String> {
    Query::<BTreeMap<String, String>>::try_from_uri(request.uri())
        .ok()
        .and_then(|Query(mut query)| query.remove("token"))
}

/// Sets the cookie and redirects to the same page without `token` in its query.
fn remember(request: &Request, token: &str) -> Response {
    let uri = request.uri();
    let rest: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some("token"))
        .collect();
    let target = if rest.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), rest.join("&"))
    };
    let cookie = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax", hex(token));
    let mut response = Redirect::to(&target).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// Whether a browser says the request comes from this site (or says nothing: not a
/// browser, or an old one).
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site"))
        && !matches!(site, "same-origin" | "none")
    {
        return false;
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host))
        }
        (Some(_), None) => false,
    }
}

/// 401 or 403: JSON for the API, a page for a person.
fn refuse(request: &Request, status: StatusCode, why: &str) -> Response {
    let mut response = if request.uri().path().starts_with("/api/") {
        (status, axum::Json(serde_json::json!({ "error": why }))).into_response()
    } else {
        let body = format!(
            "<p class=\"error\">{why}.</p><p>Open the dashboard with <code>?token=…</code> \
             once (it is then kept in a cookie), or send \
             <code>Authorization: Bearer …</code>.</p>"
        );
        (status, Html(layout("Not allowed", None, &body))).into_response()
    };
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"bankpipe\""),
        );
    }
    response
}

/// Compares two secrets in a time that does not depend on where they differ.
fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// Text as lowercase hex: any token becomes a valid cookie value.
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn bearer_and_cookie_carry_the_token() {
        assert!(has_bearer(
            &headers(&[("authorization", "Bearer s3")]),
            "s3"
        ));
        assert!(!has_bearer(
            &headers(&[("authorization", "Bearer s4")]),
            "s3"
        ));
        assert!(!has_bearer(
            &headers(&[("authorization", "Basic s3")]),
            "s3"
        ));
        let cookie = headers(&[("cookie", "a=b; bankpipe_token=7333; c=d")]);
        assert!(has_cookie(&cookie, "s3"));
        assert!(!has_cookie(&cookie, "s4"));
    }

    #[test]
    fn posts_from_other_sites_are_told_apart() {
        assert!(same_origin(&headers(&[])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:4200"),
            ("origin", "http://127.0.0.1:4200"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:4200"),
            ("origin", "http://evil.example"),
        ])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:4200"),
            ("origin", "null"),
        ])));
    }
}
