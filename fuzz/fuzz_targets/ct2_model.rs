//! CTranslate2 `model.bin` files (what `model install` converts): parse, and read every
//! variable's values.
#![no_main]
use callscore_transcribe::ct2::Ct2Model;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = Ct2Model::parse(data) {
        for var in model.variables.values() {
            let _ = var.element_count();
            let _ = var.scalar_i64();
            let _ = var.to_f32();
        }
    }
});
