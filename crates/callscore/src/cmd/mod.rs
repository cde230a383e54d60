//! One module per subcommand; each owns its clap arguments and its `run`.
pub mod batch;
pub mod common;
pub mod export_audio;
pub mod import_pcap;
pub mod model;
pub mod record;
pub mod report;
pub mod rescore;
pub mod rubric;
pub mod score;
pub mod score_transcript;
pub mod search;
pub mod serve;
pub mod shop;
pub mod transcribe;
pub mod voice;
pub mod work;
