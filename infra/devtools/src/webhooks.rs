//! Webhook deliveries signed as each provider signs them, from the
//! provider's descriptor and a connection's values: the demo seed, the
//! tests and the benches post through the real ingest path with these.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use shared::store::Connection;

use crate::BoxError;

/// A POST of `body` to the connection's webhook on `base_url` (scheme and
/// host, e.g. `http://127.0.0.1:3000`), with `query` (empty or `?…`) on the
/// URL the provider signs, signed at `now`.
pub fn signed_request(
    connection: &Connection,
    base_url: &str,
    query: &str,
    body: impl Into<Bytes>,
    now: DateTime<Utc>,
) -> Result<http::Request<Bytes>, BoxError> {
    let body: Bytes = body.into();
    let descriptor = connection.provider.descriptor();
    let path = format!(
        "/webhooks/{}/{}{query}",
        descriptor.path, connection.connection_id
    );
    let headers = descriptor
        .proof
        .sign(
            &connection.secrets,
            &connection.config,
            &format!("{base_url}{path}"),
            &body,
            now,
        )
        .ok_or_else(|| {
            format!(
                "{} deliveries are signed by AWS, not locally",
                connection.provider.as_str()
            )
        })?;
    let host = base_url.split_once("://").map_or(base_url, |(_, h)| h);
    let mut request = http::Request::post(path)
        .header("host", host)
        .header("content-type", descriptor.content_type);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    Ok(request.body(body)?)
}
