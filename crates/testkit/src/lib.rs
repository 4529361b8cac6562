//! What the services' integration tests share (a dev-dependency only, never shipped):
//!
//! * [`sandbox_url`]: the vendor sandbox on a loopback port of its own, for the rest of
//!   the test process;
//! * [`process`]: a service binary as Kubernetes runs it, a child process configured by
//!   `AXLE_*` variables only and stopped by a real SIGTERM or SIGKILL;
//! * [`drain`]: SIGTERM under load, its callers and the checks of the drain;
//! * [`postgres`]: a schema of its own per run on the test PostgreSQL, or a reason to
//!   skip;
//! * [`noise_png`]: a real photo file that no other test's is;
//! * [`free_port`], [`remove_sqlite`].

#![allow(clippy::missing_panics_doc)] // test helpers: a failed setup panics, loudly

pub mod drain;
pub mod postgres;
pub mod process;

/// A real PNG of `width`×`height` pixels of noise (so it does not compress to nothing),
/// different for every `seed`: vendors that match a photo by its md5 (the sandbox's
/// apihz) tell the photos of different cases apart.
pub fn noise_png(width: u32, height: u32, seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |col, row| {
        let mixed = col
            .wrapping_mul(2_654_435_761)
            .wrapping_add(row.wrapping_mul(40_503))
            .wrapping_add(seed.wrapping_mul(97_531));
        let [red, green, blue, _] = mixed.to_le_bytes();
        image::Rgb([red, green, blue])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode");
    out
}

/// The sandbox with its default configuration on `127.0.0.1:0`, never stopped (it lives
/// as long as the test's runtime); its base URL (`http://127.0.0.1:port`).
pub async fn sandbox_url() -> String {
    sandbox_url_with(|_| {}).await
}

/// [`sandbox_url`] with the configuration changed by `tweak` first (its `listen` is set
/// to `127.0.0.1:0` before `tweak` runs).
pub async fn sandbox_url_with(tweak: impl FnOnce(&mut sandbox::SandboxConfig)) -> String {
    let mut cfg = sandbox::SandboxConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..sandbox::SandboxConfig::default()
    };
    tweak(&mut cfg);
    let sb = sandbox::start(cfg, std::future::pending())
        .await
        .expect("the sandbox starts");
    let url = sb.base_url();
    // Its task runs until the runtime ends; the handle is not needed to keep it.
    std::mem::forget(sb);
    url
}

/// A channel to a server on `addr` (connect timeout 1 s).
pub async fn connect(addr: std::net::SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect_timeout(std::time::Duration::from_secs(1))
        .connect()
        .await
        .expect("connects")
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Removes a SQLite store and the journal files beside it (WAL mode).
pub fn remove_sqlite(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}
