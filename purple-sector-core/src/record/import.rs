//! Imports: a finished source into a new session, all or nothing, through the same pipeline
//! as a live recording.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::lap::{Lap, PartialCause};
use crate::store::codec::{self, CodecError, EncodedFrames};
use crate::store::{NewSession, Store, StoreError};

use super::writer::Writer;
use super::{Input, Pipeline, RecordSummary, StoreOp};

/// Imports a finished source into a new session: everything or nothing (on an error the
/// session made so far is deleted).
///
/// Three stages run side by side, a thread each: this task reads the source, parses and
/// cuts laps; an encoder task encodes each lap's telemetry (on one thread, not the codec's
/// two: the other stages have the other core); a writer task commits the laps already
/// encoded ([`Store::save_encoded_lap_unsynced`]), so that one lap's encode overlaps the
/// commit of the lap before. The laps are committed without waiting for the disk and the
/// store is synced once, when the import has succeeded: a failed import is deleted anyway.
pub async fn import_inputs<E>(
    store: Arc<dyn Store>,
    session: NewSession,
    inputs: impl IntoIterator<Item = Result<Input, E>>,
) -> Result<Result<RecordSummary, E>, StoreError> {
    let (ops_tx, mut ops_rx) = mpsc::channel::<StoreOp>(16);
    // Two laps encoded ahead of the commits at most.
    let (encoded_tx, mut encoded_rx) = mpsc::channel::<Encoded>(2);
    let encoder_task = tokio::spawn(async move {
        while let Some(op) = ops_rx.recv().await {
            let next = match op {
                StoreOp::SaveLap(lap) => {
                    // `codec::encode` on one thread (same bytes).
                    let encode = move || {
                        let encoded = codec::encode_principal(&lap.frames).and_then(|principal| {
                            let rest = codec::encode_rest(&lap.frames)?;
                            Ok(EncodedFrames { principal, rest })
                        });
                        (lap, encoded)
                    };
                    let (lap, encoded) = tokio::task::spawn_blocking(encode)
                        .await
                        .map_err(|source| StoreError::Task { source })?;
                    Encoded::Lap(lap, encoded)
                }
                op => Encoded::Op(op),
            };
            if encoded_tx.send(next).await.is_err() {
                break;
            }
        }
        Ok::<(), StoreError>(())
    });
    let writer_store = Arc::clone(&store);
    let writer_task = tokio::spawn(async move {
        let mut writer = Writer::new(writer_store, session).bulk();
        let mut failure = None;
        while let Some(next) = encoded_rx.recv().await {
            if failure.is_none() {
                let applied = match next {
                    Encoded::Op(op) => writer.apply(op).await,
                    Encoded::Lap(lap, encoded) => writer.apply_encoded(lap, encoded).await,
                };
                if let Err(e) = applied {
                    // Keep draining so the reader never blocks on a dead writer.
                    failure = Some(e);
                }
            }
        }
        (writer, failure)
    });

    let mut pipeline = Pipeline::new(None).completing_laps_at_the_line();
    let mut ops = Vec::new();
    let mut source_error = None;
    for input in inputs {
        match input {
            Ok(input) => pipeline.feed(input, &mut ops),
            Err(e) => {
                source_error = Some(e);
                break;
            }
        }
        for op in ops.drain(..) {
            if ops_tx.send(op).await.is_err() {
                break;
            }
        }
    }
    if source_error.is_none() {
        pipeline.finish(PartialCause::Stopped, &mut ops);
        for op in ops.drain(..) {
            let _ = ops_tx.send(op).await;
        }
    }
    drop(ops_tx);
    let encoder_error = encoder_task
        .await
        .map_err(|source| StoreError::Task { source })?
        .err();
    let (writer, store_error) = writer_task
        .await
        .map_err(|source| StoreError::Task { source })?;
    let store_error = store_error.or(encoder_error);
    let created = writer.session_id();
    match (store_error, source_error) {
        (None, None) => {
            let (session, laps) = writer.finish().await?;
            Ok(Ok(RecordSummary {
                session,
                laps,
                pipeline: pipeline.counters(),
                client: Default::default(),
            }))
        }
        (Some(store_error), _) => {
            if let Some(id) = created {
                // Best effort: the store just failed; its error matters more.
                let _ = store.delete_session(id).await;
            }
            Err(store_error)
        }
        (None, Some(source_error)) => {
            if let Some(id) = created {
                store.delete_session(id).await?;
            }
            Ok(Err(source_error))
        }
    }
}

/// What the import's writer is given: the pipeline's operations, each lap with its
/// telemetry encoded on the way (while the writer commits the lap before).
enum Encoded {
    Op(StoreOp),
    Lap(Lap, Result<EncodedFrames, CodecError>),
}
