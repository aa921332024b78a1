//! The recording pipeline: a source of datagrams or frames in, laps in the store out.
//!
//! [`Pipeline`] is the synchronous heart — datagrams and frames in, [`StoreOp`]s out — shared
//! by [`Recorder`] (a game, the built-in game or a capture → UDP client → pipeline → store
//! writer) and by imports ([`import_inputs`]), so a capture imported gives the same laps as
//! the same traffic recorded live. The pipeline needs no runtime; the recorder and imports
//! need the `net` feature (tokio).

#[cfg(feature = "net")]
mod import;
mod pipeline;
#[cfg(feature = "net")]
mod recorder;
#[cfg(feature = "net")]
mod writer;

#[cfg(feature = "net")]
pub use import::import_inputs;
pub use pipeline::{Input, LiveStatus, Pipeline, PipelineCounters, StoreOp};
#[cfg(feature = "net")]
pub use recorder::{
    RecordError, RecordOptions, RecordSummary, Recorder, RecorderState, RecorderStatus, Recording,
    Source,
};
