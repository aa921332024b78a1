//! MoTeC i2 log files: `.ld` (the logged data) and `.ldx` (its XML sidecar of lap beacons).
//!
//! A format layer only: [`LdFile`] and [`Ldx`] know nothing of frames or laps, do no I/O of
//! their own beyond the [`Write`](std::io::Write) + [`Seek`](std::io::Seek) sink the
//! [`LdWriter`] is given, and need no async runtime.
//!
//! - [`LdFile::parse`] reads any `.ld` file — ours or another tool's — from its bytes, following
//!   its pointers, checking each against the file's length; it never panics, and its
//!   [`LdError`]s carry offsets and counts.
//! - [`LdWriter`] writes one with bounded memory: created with the header and every channel's
//!   sample count, it lays the whole file out up front, then takes samples for any channel in
//!   chunks, in any order. [`LdFile::write`] writes a whole file through it.
//! - [`Ldx::to_xml`] and [`Ldx::parse`] write and read the sidecar.
//!
//! # The `.ld` layout
//!
//! Little-endian throughout; text fields are fixed-size, NUL-padded Windows-1252. Pointers are
//! absolute file offsets, `0` for none. The header is 0x6E2 (1762) bytes at offset 0:
//!
//! | offset | size | field | we write |
//! |-------:|-----:|-------|----------|
//! | 0x000 | 4 | marker | 0x40 |
//! | 0x004 | 4 | unknown | 0 |
//! | 0x008 | 4 | pointer to the first channel record | 0x3448 (0 without channels) |
//! | 0x00C | 4 | pointer to the channel data | 0x3448 + 124 × channels |
//! | 0x010 | 20 | unknown | 0 |
//! | 0x024 | 4 | pointer to the event block | 0x6E2 |
//! | 0x028 | 24 | unknown | 0 |
//! | 0x040 | 2 | static | 1 |
//! | 0x042 | 2 | static | 0x4240 |
//! | 0x044 | 2 | static | 0x000F |
//! | 0x046 | 4 | device serial | 0x1F44 (8004) |
//! | 0x04A | 8 | device type | `"ADL"` |
//! | 0x052 | 2 | device version | 420 |
//! | 0x054 | 2 | static | 0xADB0 |
//! | 0x056 | 4 | channel count | channels |
//! | 0x05A | 4 | unknown | 0 |
//! | 0x05E | 16 | date, `DD/MM/YYYY` | |
//! | 0x06E | 16 | unknown | 0 |
//! | 0x07E | 16 | time, `HH:MM:SS` (`HH:MM` is read too) | |
//! | 0x08E | 16 | unknown | 0 |
//! | 0x09E | 64 | driver | |
//! | 0x0DE | 64 | vehicle id | |
//! | 0x11E | 64 | unknown | 0 |
//! | 0x15E | 64 | venue | |
//! | 0x19E | 1088 | unknown | 0 |
//! | 0x5DE | 4 | "pro logging" magic | 0x000C81A4 |
//! | 0x5E2 | 2 | unknown | 0 |
//! | 0x5E4 | 64 | session | |
//! | 0x624 | 64 | short comment | |
//! | 0x664 | 126 | unknown | 0 |
//!
//! The event block (0x482 bytes known): name (64) at +0x000, session (64) at +0x040, long
//! comment (1024) at +0x080, and a **16-bit** pointer to the venue block at +0x480. The venue
//! block (0x44C known): name (64) at +0x000, 16-bit pointer to the vehicle block at +0x44A. The
//! vehicle block (0x104 known): id (64) at +0x000, unknown 128 bytes, weight (`u32`, kg) at
//! +0x0C0, type (32) at +0x0C4, comment (32) at +0x0E4. The two 16-bit pointers are read as 16
//! bits because some writers put the next block straight after them.
//!
//! We place the blocks where a MoTeC-written file has them, the unknown bytes between them
//! zero: event at 0x06E2, venue at 0x1336, vehicle at 0x1F54, the channel records from 0x3448,
//! then each channel's samples, contiguous, in channel order.
//!
//! Channel records form a doubly linked list; we write 124 bytes (0x7C) each, of which the
//! reader needs the first 0x54:
//!
//! | offset | size | field | we write |
//! |-------:|-----:|-------|----------|
//! | 0x00 | 4 | previous record | 0 for the first |
//! | 0x04 | 4 | next record | 0 for the last |
//! | 0x08 | 4 | pointer to the samples | |
//! | 0x0C | 4 | sample count | |
//! | 0x10 | 2 | unknown, a counter in public writers | 0x2EE1 + index |
//! | 0x12 | 2 | type: 7 float; 0, 3, 5 integer | 7 (f32, f16), 3 (i16), 5 (i32) |
//! | 0x14 | 2 | bytes per sample: 2 or 4 | |
//! | 0x16 | 2 | frequency, Hz | |
//! | 0x18 | 2 | shift (`i16`) | |
//! | 0x1A | 2 | mul (`i16`) | |
//! | 0x1C | 2 | scale (`i16`) | |
//! | 0x1E | 2 | decimal places (`i16`) | |
//! | 0x20 | 32 | name | |
//! | 0x40 | 8 | short name | |
//! | 0x48 | 12 | unit | |
//! | 0x54 | 40 | unknown (32 in some loggers' files) | 0 |
//!
//! A sample's value is `(raw / scale × 10^−dec + shift) × mul` ([`LdScaling::apply`]).
//!
//! Also seen in a MoTeC-written sample file, where the public writers (and we) write the
//! values in the table: 0 at 0x040, 0x0080 at 0x054, 0x00010064 at 0x05A, 0x00D20822 at 0x5DE,
//! 99 at 0x66C, a second pointer at event +0x484, and non-zero words after the vehicle block's
//! comment and after each channel's unit. What they mean is not known; files carrying the
//! values above open in i2.
//!
//! # SOURCES
//!
//! The layout was learned by reading these public projects, and checked against the sample
//! log one of them ships; no code was copied from any of them:
//!
//! - `gotzl/ldparser` (Python): header, event, venue, vehicle and channel structures, the
//!   static values, the data types and the scaling formula.
//! - `riccardotornesello/motecldparser` (Go): the same structures as a writer, the block order.
//! - `afonso360/motec-i2` (Rust): the session field at 0x5E4, the integer type codes, and its
//!   sample file `samples/Sample1.ld`, whose bytes confirmed the offsets and block placement.
//! - `stevendaniluk/MotecLogGenerator` (Python): the block pointers of MoTeC-written files and
//!   the `.ldx` details.
//! - For `.ldx`: `.ldx` writers and test fixtures in public repositories (the element
//!   structure, `Version="1.6"`, marker attributes, times in µs as `%.17e`).

mod ld;
mod ldx;

pub use ld::{
    DEVICE_SERIAL, DEVICE_TYPE, DEVICE_VERSION, LD_MARKER, LdBlock, LdChannel, LdChannelSpec,
    LdData, LdDataType, LdDateTime, LdError, LdFile, LdHeader, LdScaling, LdWriteError, LdWriter,
    PRO_LOGGING_MAGIC, f16_to_f32,
};
pub use ldx::{DETAIL_FASTEST_LAP, DETAIL_FASTEST_TIME, DETAIL_TOTAL_LAPS, Ldx, LdxError};
