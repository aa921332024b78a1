//! Accounts on a real server: users' tokens, what each role may do (403 with a JSON
//! message otherwise), owners recorded, revocation at once, the server's own token still an
//! admin's; `/healthz` and `/readyz` open to probes; HTTPS and `wss://` with rustls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use purple_sector_server::health::Probe;
use purple_sector_server::tls_config;
use serde_json::{Value, json};
use support::http::{Reply, Running, host, parse_reply, request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const ADMIN: &str = "the-servers-own-token";

/// `method path` with `token` (if any) and a JSON body (if any).
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut head = format!("{method} {path} HTTP/1.1\r\n{}", host(addr));
    if let Some(token) = token {
        head.push_str(&format!("\r\nAuthorization: Bearer {token}"));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    if !body.is_empty() {
        head.push_str("\r\nContent-Type: application/json");
    }
    request(addr, &head, body.as_bytes()).await
}

async fn add_user(addr: SocketAddr, name: &str, role: &str) -> String {
    let reply = call(
        addr,
        "POST",
        "/api/users",
        Some(ADMIN),
        Some(json!({"name": name, "role": role})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let user = reply.json();
    assert_eq!(user["role"], role);
    let token = user["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("ps_") && token.len() == 67, "{token}");
    token
}

fn refused_with(reply: &Reply, status: u16, words: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    let message = reply.json()["error"].as_str().unwrap().to_owned();
    assert!(message.contains(words), "{message:?} should say {words:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_does_what_it_may_and_nothing_else() {
    let server = Running::start(|s| s.token = Some(ADMIN.into())).await;
    let addr = server.addr;
    let lena = add_user(addr, "lena", "driver").await;
    let marco = add_user(addr, "marco", "driver").await;
    let eng = add_user(addr, "eng", "engineer").await;
    // The same name twice: 409.
    let again = call(
        addr,
        "POST",
        "/api/users",
        Some(ADMIN),
        Some(json!({"name": "lena", "role": "driver"})),
    )
    .await;
    refused_with(&again, 409, "lena");
    // Tokens are kept hashed: the listing never shows one.
    let users = call(addr, "GET", "/api/users", Some(ADMIN), None).await;
    assert_eq!(users.status, 200);
    assert_eq!(users.json().as_array().unwrap().len(), 3);
    assert!(!users.body.contains(&lena) && !users.body.contains("token"));

    // No token, or a wrong one: 401.
    refused_with(
        &call(addr, "GET", "/api/sessions", None, None).await,
        401,
        "token",
    );
    refused_with(
        &call(addr, "GET", "/api/sessions", Some("ps_wrong"), None).await,
        401,
        "token",
    );

    // Everyone reads.
    for token in [&lena, &marco, &eng] {
        assert_eq!(
            call(addr, "GET", "/api/sessions", Some(token), None)
                .await
                .status,
            200
        );
    }
    // Drivers make sessions, which are theirs; engineers don't.
    let made = call(
        addr,
        "POST",
        "/api/sessions",
        Some(&lena),
        Some(json!({"name": "Imola practice"})),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.json()["owner"], "lena");
    let id = made.json()["id"].as_i64().unwrap();
    refused_with(
        &call(
            addr,
            "POST",
            "/api/sessions",
            Some(&eng),
            Some(json!({"name": "x"})),
        )
        .await,
        403,
        "eng (engineer) may not record",
    );
    // Only its driver (or an admin) changes or deletes it.
    let path = format!("/api/sessions/{id}");
    let rename = || Some(json!({"name": "renamed"}));
    refused_with(
        &call(addr, "PATCH", &path, Some(&marco), rename()).await,
        403,
        "of lena",
    );
    refused_with(
        &call(addr, "DELETE", &path, Some(&marco), None).await,
        403,
        "marco (driver)",
    );
    refused_with(
        &call(addr, "DELETE", &path, Some(&eng), None).await,
        403,
        "engineer",
    );
    assert_eq!(
        call(addr, "PATCH", &path, Some(&lena), rename())
            .await
            .status,
        200
    );
    // A session made without an account (the harness's) is nobody's: only an admin's to change.
    refused_with(
        &call(addr, "DELETE", "/api/sessions/1", Some(&lena), None).await,
        403,
        "nobody",
    );
    // Users are an admin's business.
    refused_with(
        &call(addr, "GET", "/api/users", Some(&lena), None).await,
        403,
        "manage users",
    );
    refused_with(
        &call(
            addr,
            "POST",
            "/api/users",
            Some(&eng),
            Some(json!({"name": "x", "role": "admin"})),
        )
        .await,
        403,
        "manage users",
    );
    // An engineer cannot start a recording from the stream either.
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {eng}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.next().await.unwrap().unwrap(); // connected
    ws.send(Message::text(r#"{"type":"start_demo"}"#))
        .await
        .unwrap();
    let reply: Value = loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let value: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
        if value["type"] == "error" {
            break value;
        }
    };
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("may not record"),
        "{reply}"
    );

    // Revoked: refused from the next request on; what they made stays theirs.
    assert_eq!(
        call(addr, "DELETE", "/api/users/lena", Some(ADMIN), None)
            .await
            .status,
        200
    );
    refused_with(
        &call(addr, "GET", "/api/sessions", Some(&lena), None).await,
        401,
        "token",
    );
    assert_eq!(
        call(addr, "GET", &path, Some(&marco), None).await.json()["owner"],
        "lena"
    );
    refused_with(
        &call(addr, "DELETE", "/api/users/nobody", Some(ADMIN), None).await,
        404,
        "nobody",
    );
    // The server's own token is an admin's.
    assert_eq!(
        call(addr, "DELETE", &path, Some(ADMIN), None).await.status,
        204
    );
    server.stop().await;
}

/// A probe that fails, as a Redis hub that went away would.
struct Down;

#[async_trait::async_trait]
impl Probe for Down {
    fn name(&self) -> &str {
        "hub"
    }
    async fn check(&self) -> Result<(), String> {
        Err("connection refused".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_need_no_token() {
    let server = Running::start(|s| s.token = Some(ADMIN.into())).await;
    let healthz = call(server.addr, "GET", "/healthz", None, None).await;
    assert_eq!(
        (healthz.status, healthz.json()["status"].clone()),
        (200, json!("ok"))
    );
    let readyz = call(server.addr, "GET", "/readyz", None, None).await;
    assert_eq!(readyz.status, 200, "{}", readyz.body);
    assert_eq!(
        readyz.json(),
        json!({"ready": true, "checks": {"database": "ok"}})
    );
    server.stop().await;

    let server = Running::start(|s| s.probes.push(Arc::new(Down))).await;
    let readyz = call(server.addr, "GET", "/readyz", None, None).await;
    assert_eq!(readyz.status, 503);
    assert_eq!(
        readyz.json(),
        json!({"ready": false, "checks": {"database": "ok", "hub": "connection refused"}})
    );
    server.stop().await;
}

/// A self-signed certificate for localhost, its files, and a client that trusts it.
struct Tls {
    server: Arc<rustls::ServerConfig>,
    client: tokio_rustls::TlsConnector,
    _dir: tempfile::TempDir,
}

fn tls() -> Tls {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let server = tls_config(&cert, &key).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    Tls {
        server,
        client: tokio_rustls::TlsConnector::from(Arc::new(client)),
        _dir: dir,
    }
}

async fn tls_stream(
    tls: &Tls,
    addr: SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tls.client.connect(name, tcp).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_carry_a_users_token() {
    let tls = tls();
    let server = Running::start_with(
        |s| s.token = Some(ADMIN.into()),
        Some(Arc::clone(&tls.server)),
    )
    .await;
    let addr = server.addr;

    // HTTPS: the API with a bearer token.
    let mut stream = tls_stream(&tls, addr).await;
    let head = format!(
        "GET /api/sessions HTTP/1.1\r\nHost: localhost:{}\r\nAuthorization: Bearer {ADMIN}\r\nConnection: close\r\n\r\n",
        addr.port()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .unwrap()
        .ok();
    let reply = parse_reply(&raw);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json().as_array().unwrap().len(), 1);

    // wss:// with the token, from the server's own https origin.
    let stream = tls_stream(&tls, addr).await;
    let mut request = format!("wss://localhost:{}/ws", addr.port())
        .into_client_request()
        .unwrap();
    let headers = request.headers_mut();
    headers.insert("authorization", format!("Bearer {ADMIN}").parse().unwrap());
    headers.insert(
        "origin",
        format!("https://localhost:{}", addr.port())
            .parse()
            .unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    let hello = ws.next().await.unwrap().unwrap();
    assert!(hello.to_text().unwrap().contains("connected"));
    ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(pong.to_text().unwrap().contains("pong"), "{pong:?}");

    // Plain HTTP on the TLS port gets no answer in clear text.
    let reply = call(addr, "GET", "/api/sessions", Some(ADMIN), None).await;
    assert_ne!(reply.status, 200);
    assert!(!reply.body.contains("sessions"));
    server.stop().await;
}

#[test]
fn a_key_that_is_not_a_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, "not a certificate").unwrap();
    std::fs::write(&key, "not a key").unwrap();
    let error = tls_config(&cert, &key).unwrap_err().to_string();
    assert!(error.contains("cert.pem"), "{error}");
}
