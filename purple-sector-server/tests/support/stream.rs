//! What a WebSocket client must have seen of one session, whatever the machine's speed.
//!
//! A client takes at most `hz` frames a second of wall time, and a loaded runner misses some
//! of its slots, so how many frames it gets of a demo at 30× is the machine's, not the
//! product's: a test counting them fails on a slow runner. What does not depend on the
//! machine is that the frames come in order, are all of their session, and that every lap the
//! session drove through was streamed — so that is what the hub tests check.

use serde_json::Value;

/// The frames of `session` among `messages` come in lap order, and include frames of every
/// lap completed in it from the first lap streamed on (a client that joined mid-session has
/// none of the laps before), the partial one the session's end closes aside (it may hold a
/// single frame); returns how many frames there were.
pub fn assert_stream_covers(messages: &[Value], session: i64) -> usize {
    let laps_of = |kind: &str, whole: bool| -> Vec<i64> {
        messages
            .iter()
            .filter(|m| m["type"] == kind && m["data"]["sessionId"] == session)
            .filter(|m| !whole || m["data"]["kind"] != "partial")
            .map(|m| m["data"]["lapNumber"].as_i64().unwrap())
            .collect()
    };
    let streamed = laps_of("telemetry", false);
    assert!(
        streamed.windows(2).all(|w| w[0] <= w[1]),
        "session {session}: frames out of order, laps {streamed:?}"
    );
    let first = *streamed
        .first()
        .unwrap_or_else(|| panic!("session {session}: no frame streamed"));
    let completed = laps_of("lap_completed", true);
    assert!(
        completed.iter().any(|&lap| lap >= first),
        "session {session}: no lap completed while streamed (laps {completed:?}, frames from lap {first})"
    );
    for lap in completed.iter().filter(|&&lap| lap >= first) {
        assert!(
            streamed.contains(lap),
            "session {session}: no frame of lap {lap} among the {} streamed (laps {completed:?} completed)",
            streamed.len(),
        );
    }
    streamed.len()
}
