//! `cargo run --release -p ocr-engine --example eval -- DIR`: the evaluation on photos
//! rendered by scripts/ocr_synth/render.py (see docs/ocr-eval.md).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: eval DIR")?;
    let engine = ocr_engine::Engine::load(&ocr_engine::EngineConfig::default())?;
    let report = ocr_engine::eval::run(&engine, std::path::Path::new(&dir))?;
    println!("{}", report.markdown());
    for (file, field, want, got) in &report.misses {
        println!("miss {file} {field}: want {want:?}, read {got:?}");
    }
    Ok(())
}
