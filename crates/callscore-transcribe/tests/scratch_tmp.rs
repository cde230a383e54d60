mod common;
use callscore_transcribe::*;
#[test]
fn scratch() {
    for fb in [true, false] {
        let t = Transcriber::load(&common::model_path(), TranscribeOptions { threads: 2, temperature_fallback: fb, ..Default::default() }).unwrap();
        for f in ["calls/mono_call.wav", "real/commercial_mono.wav", "calls/good_call.wav"] {
            let rec = common::load(f);
            let s = std::time::Instant::now();
            let tr = t.transcribe(&rec.legs).unwrap();
            let name = f.split('/').nth(1).unwrap().trim_end_matches(".wav");
            let w = if name == "commercial_mono" { 0.0 } else if name == "mono_call" { common::leg_wer(name, &tr, callscore_core::Speaker::Unknown) } else { common::leg_wer(name, &tr, callscore_core::Speaker::Agent) };
            eprintln!("fallback={fb} {f}: {:.2}s wer {w:.3}", s.elapsed().as_secs_f64());
        }
    }
}
