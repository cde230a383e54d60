#[test]
fn probe() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    for dir in ["formats", "bad", "calls", "calls/pcm", "real"] {
        let mut entries: Vec<_> = std::fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() || p.extension().is_some_and(|e| e == "json" || e == "script" || e == "txt" || e == "NOTICE" || e == "md") { continue; }
            match callscore_ingest::load(&p, &Default::default()) {
                Ok(r) => {
                    let lv: Vec<String> = r.legs.iter().map(|l| format!("{}:{} n={} rms={:.1}", l.speaker, l.duration_ms(), l.samples.len(), callscore_ingest::levels::rms_dbfs(&l.samples))).collect();
                    eprintln!("OK  {} fmt={} ch={} sr={} dur={} legs=[{}] warn={:?}", p.display(), r.source_format, r.source_channels, r.source_sample_rate, r.duration_ms, lv.join(", "), r.warnings);
                }
                Err(e) => eprintln!("ERR {} [{}] {}", p.display(), e.kind(), e),
            }
        }
    }
}
