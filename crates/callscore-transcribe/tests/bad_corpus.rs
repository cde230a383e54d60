//! The shared bad-input corpus (fixtures/bad/EXPECTED.toml): ggml and CTranslate2 model files.
//! Their errors do not name the file (the binary adds which model it was loading).

#[path = "../../../fixtures/bad/corpus.rs"]
mod corpus;

use callscore_transcribe::ct2::Ct2Model;
use callscore_transcribe::ggml::GgmlModelInfo;

#[test]
fn ggml_models() {
    corpus::check("ggml", false, |path| {
        let info = GgmlModelInfo::from_path(path).map_err(|e| e.to_string())?;
        info.validate().map_err(|e| e.to_string())?;
        Ok(vec![format!("{} tensors", info.tensors.len())])
    });
}

#[test]
fn ct2_models() {
    corpus::check("ct2", false, |path| {
        let bytes = std::fs::read(path).unwrap();
        let model = Ct2Model::parse(&bytes).map_err(|e| e.to_string())?;
        Ok(vec![format!("{} variables", model.variables.len())])
    });
}
