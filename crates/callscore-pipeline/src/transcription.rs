//! From a recording file to the transcript that is stored: ingest, then every leg transcribed
//! with the one loaded model and merged by time, with the recording's metadata attached.

use crate::PipelineError;
use callscore_core::{Leg, Speaker, Transcript};
use callscore_diarize::{AgentVoices, Diarizer};
use callscore_ingest::{LoadOptions, Recording};
use callscore_redact::{RedactionConfig, RedactionSummary, Redactor};
use callscore_transcribe::{TranscribeError, TranscribeOptions, Transcriber};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Where the Whisper model comes from: called at most once, the first time a call needs
/// transcription (a batch of stored transcripts never loads a model). The binary's resolver may
/// install the default model on first use.
pub type ModelResolver = Box<dyn Fn() -> Result<PathBuf, String> + Send + Sync>;

/// Where the speaker-diarization model lives: returns the model cache folder once the speaker
/// encoder is installed there (the binary installs it on first use). Called at most once, for
/// the first mono recording.
pub type DiarizerResolver = Box<dyn Fn() -> Result<PathBuf, String> + Send + Sync>;

/// How recordings are read and transcribed.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    pub load: LoadOptions,
    pub transcribe: TranscribeOptions,
    /// Which personal data is redacted from every transcript before anything sees it (card
    /// data by default; a rubric's `[redaction]` table can change it).
    pub redaction: RedactionConfig,
}

/// The transcription half of the pipeline: usable on its own (`callscore transcribe` needs no
/// rubric and no database) and shared by every worker thread.
pub struct Transcription {
    resolve_model: ModelResolver,
    redactor: Redactor,
    transcriber: OnceLock<Transcriber>,
    /// Serialises the first model load so two workers never load it twice.
    loading: Mutex<()>,
    resolve_diarizer: Option<DiarizerResolver>,
    /// The enrolled agents' voices the diarizer is given when it loads.
    agent_voices: AgentVoices,
    /// The diarizer, or why there is none (the reason mono calls then carry).
    diarizer: OnceLock<Result<Diarizer, String>>,
    opts: PipelineOptions,
}

impl std::fmt::Debug for Transcription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcription")
            .field("model_loaded", &self.transcriber.get().is_some())
            .field("opts", &self.opts)
            .finish()
    }
}

impl Transcription {
    pub fn new(resolve_model: ModelResolver, opts: PipelineOptions) -> Self {
        Transcription {
            resolve_model,
            redactor: Redactor::new(opts.redaction.clone()),
            transcriber: OnceLock::new(),
            loading: Mutex::new(()),
            resolve_diarizer: None,
            agent_voices: AgentVoices::default(),
            diarizer: OnceLock::new(),
            opts,
        }
    }

    /// Separates the speakers of mono recordings with the diarizer `resolve` finds. Without
    /// it, mono calls stay `unknown` (and criteria about one party say n/a).
    pub fn with_diarizer(mut self, resolve: DiarizerResolver) -> Self {
        self.resolve_diarizer = Some(resolve);
        self
    }

    /// Enrolled agent voices (`callscore voice enroll`): on a mono call whose sidecar names an
    /// agent with a voice print here, the voice that sounds like them is the agent, where the
    /// words alone may not say.
    pub fn with_agent_voices(mut self, voices: AgentVoices) -> Self {
        self.agent_voices = voices;
        self
    }

    /// The diarizer, loading it on first use; `Err` says why mono calls cannot be separated.
    fn diarizer(&self) -> Result<&Diarizer, &str> {
        self.diarizer
            .get_or_init(|| {
                let Some(resolve) = &self.resolve_diarizer else {
                    return Err("speaker separation is not set up".to_string());
                };
                let loaded = resolve().and_then(|dir| {
                    Diarizer::load(&dir)
                        .map(|d| d.with_agent_voices(self.agent_voices.clone()))
                        .map_err(|e| e.to_string())
                });
                if let Err(e) = &loaded {
                    tracing::warn!("mono recordings cannot be separated by speaker: {e}");
                }
                loaded
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// Transcription with the given ggml model file.
    pub fn with_model_path(model: PathBuf, opts: PipelineOptions) -> Self {
        Self::new(Box::new(move || Ok(model.clone())), opts)
    }

    pub fn options(&self) -> &PipelineOptions {
        &self.opts
    }

    /// The loaded model, loading it now if nothing has needed it yet.
    pub fn transcriber(&self) -> Result<&Transcriber, PipelineError> {
        if let Some(t) = self.transcriber.get() {
            return Ok(t);
        }
        let _one_loader = self.loading.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = self.transcriber.get() {
            return Ok(t);
        }
        let path = (self.resolve_model)().map_err(PipelineError::ModelUnavailable)?;
        let loaded = Transcriber::load(&path, self.opts.transcribe.clone()).map_err(|source| {
            PipelineError::ModelLoad {
                path: path.clone(),
                source,
            }
        })?;
        Ok(self.transcriber.get_or_init(|| loaded))
    }

    /// Whether the model has been loaded (for tests and diagnostics).
    pub fn model_loaded(&self) -> bool {
        self.transcriber.get().is_some()
    }

    /// Reads a recording with this pipeline's options.
    pub fn load(&self, path: &Path) -> Result<Recording, PipelineError> {
        Ok(callscore_ingest::load(path, &self.opts.load)?)
    }

    /// A mono recording's transcript with its words given to agent and caller by speaker
    /// diarization, where it is sure (each voice transcribed from its own track, see
    /// `Diarizer::transcribe_mono`); the notes say how the agent was recognised and why any
    /// segment stayed `unknown`. Without a diarizer the mix is transcribed and the notes say why
    /// the speakers were not separated.
    fn transcribe_mono(
        &self,
        transcriber: &Transcriber,
        leg: &Leg,
        recording: &Recording,
    ) -> Result<Transcript, TranscribeError> {
        let diarizer = match self.diarizer() {
            Ok(d) => d,
            Err(why) => {
                let mut t = transcriber.transcribe(std::slice::from_ref(leg))?;
                t.speaker_notes
                    .push(format!("mono recording; speakers not separated: {why}"));
                return Ok(t);
            }
        };
        let attribution = diarizer.transcribe_mono(transcriber, leg, &recording.meta)?;
        let mut t = attribution.transcript;
        // Why segments stayed unknown comes first: it is what n/a verdicts quote.
        t.speaker_notes.extend(attribution.unknown_reasons);
        t.speaker_notes.push(attribution.role.reason.clone());
        if attribution.unknown_segments > 0 {
            tracing::info!(
                "{}: {} segment(s) left unknown after speaker separation",
                recording.path.display(),
                attribution.unknown_segments
            );
        }
        Ok(t)
    }

    /// Removes the personal data this pipeline redacts from `transcript` (idempotent: a
    /// transcript redacted before changes only when the configuration asks for more).
    pub fn redact(&self, transcript: &mut Transcript) -> RedactionSummary {
        let summary = self.redactor.redact(transcript);
        if !summary.is_empty() {
            // Counts only: the values themselves must never reach a log.
            tracing::info!("redacted {summary}");
        }
        summary
    }

    /// The transcript of a loaded recording, as it will be stored: every leg transcribed and
    /// merged, with the recording's metadata attached and personal data redacted.
    pub fn transcribe(&self, recording: &Recording) -> Result<Transcript, PipelineError> {
        let transcriber = self.transcriber()?;
        let transcribed = match recording.legs.as_slice() {
            [leg] if leg.speaker == Speaker::Unknown => {
                self.transcribe_mono(transcriber, leg, recording)
            }
            legs => transcriber.transcribe(legs),
        };
        let mut transcript = transcribed.map_err(|source| PipelineError::Transcribe {
            path: recording.path.clone(),
            source,
        })?;
        transcript.meta = recording.meta.clone();
        if transcript.model.is_empty() {
            transcript.model = transcriber.model_name().to_string();
        }
        self.redact(&mut transcript);
        Ok(transcript)
    }
}
