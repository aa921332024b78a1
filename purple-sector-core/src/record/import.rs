//! Imports: a finished source into a new session, all or nothing, through the same pipeline
//! as a live recording.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::lap::PartialCause;
use crate::store::{NewSession, Store, StoreError};

use super::writer::Writer;
use super::{Input, Pipeline, RecordSummary, StoreOp};

/// Imports a finished source into a new session: everything or nothing (on an error the
/// session made so far is deleted).
///
/// Two stages run side by side: this task reads the source, parses and cuts laps, while a
/// writer task encodes and commits the laps already cut. The laps are committed without
/// waiting for the disk ([`Store::save_lap_unsynced`]) and the store is synced once, when
/// the import has succeeded: a failed import is deleted anyway.
pub async fn import_inputs<E>(
    store: Arc<dyn Store>,
    session: NewSession,
    inputs: impl IntoIterator<Item = Result<Input, E>>,
) -> Result<Result<RecordSummary, E>, StoreError> {
    let (ops_tx, mut ops_rx) = mpsc::channel::<StoreOp>(16);
    let writer_store = Arc::clone(&store);
    let writer_task = tokio::spawn(async move {
        let mut writer = Writer::new(writer_store, session).bulk();
        let mut failure = None;
        while let Some(op) = ops_rx.recv().await {
            if failure.is_none() {
                if let Err(e) = writer.apply(op).await {
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
    let (writer, store_error) = writer_task
        .await
        .map_err(|source| StoreError::Task { source })?;
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
