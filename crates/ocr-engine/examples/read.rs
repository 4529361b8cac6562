//! `cargo run -p ocr-engine --example read -- PHOTO...`: every line and field the local
//! engine reads, with timings (for trying the engine by hand).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = ocr_engine::EngineConfig::default();
    if let Some(v) = std::env::var("DET_MAX").ok().and_then(|v| v.parse().ok()) {
        cfg.det_max_side = v;
    }
    if let Some(v) = std::env::var("DET_MIN").ok().and_then(|v| v.parse().ok()) {
        cfg.det_min_side = v;
    }
    let engine = ocr_engine::Engine::load(&cfg)?;
    for path in std::env::args().skip(1) {
        let img = image::open(&path)?;
        let started = std::time::Instant::now();
        let (lines, t) = engine.lines(&img)?;
        let read = ocr_engine::licence::extract(lines, None);
        println!("{path}: {:?} in {:?} ({t:?})", read.side, started.elapsed());
        for l in &read.lines {
            println!("  line {:.2} {}", l.confidence, l.text);
        }
        for f in &read.fields {
            println!("  {:?} = {} ({:.2})", f.name, f.text, f.confidence);
        }
    }
    Ok(())
}
