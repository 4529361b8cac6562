//! Seed 003's platform from the client's side, written out here rather than borrowed
//! from any crate under test: the signed form, the clock, and a callback receiver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use md5::{Digest, Md5};

/// A callback delivery as the receiver saw it: its form fields.
pub type Form = Vec<(String, String)>;

pub fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// Seconds since the epoch, as the seed's PHP demo's `time()`.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// MD5 mode: non-empty parameters sorted by name, `k1v1k2v2…`, then the secret.
pub fn sorted_sign(params: &[(&str, &str)], secret: &str) -> String {
    let mut sorted: Vec<&(&str, &str)> = params.iter().filter(|(_, v)| !v.is_empty()).collect();
    sorted.sort();
    let text: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}{v}")).collect();
    md5_hex(&format!("{}{secret}", text.concat()))
}

/// `params` with `sign` appended.
pub fn with_sign(params: &[(&str, &str)], sign: &str) -> Form {
    let mut form: Form = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    form.push(("sign".to_owned(), sign.to_owned()));
    form
}

/// A field of a delivered form, empty when absent.
pub fn field(form: &Form, name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// A receiver on 127.0.0.1:0 that answers `fail` to the first `fails` deliveries and
/// `success` after, logging every form; returns its URL and the log.
pub async fn receiver(fails: usize) -> (String, Arc<Mutex<Vec<Form>>>) {
    let seen: Arc<Mutex<Vec<Form>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/cb",
        post(move |body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let form: Form = form_urlencoded::parse(&body).into_owned().collect();
                let mut l = log.lock().expect("lock");
                l.push(form);
                if l.len() <= fails { "fail" } else { "success" }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let cb = format!("http://{}/cb", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (cb, seen)
}

/// Waits, boundedly (3 s), until `log` holds `n` deliveries; returns them.
pub async fn wait_for(log: &Arc<Mutex<Vec<Form>>>, n: usize) -> Vec<Form> {
    for _ in 0..300 {
        if log.lock().expect("lock").len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    log.lock().expect("lock").clone()
}
