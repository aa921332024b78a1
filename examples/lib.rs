//! Runnable examples of the Purple Sector library: see the `[[example]]` targets.
