//! The game's fixed-size UTF-16LE name fields.

use std::fmt;

use nom::{IResult, number::complete::le_u16};

use super::EncodeError;

/// Code units in one name field (100 bytes on the wire).
pub const NAME_UNITS: usize = 50;
/// Bytes in one name field.
pub const NAME_LEN: usize = NAME_UNITS * 2;
/// The unit that ends a name: `'%'`. What follows it is leftover memory.
pub const NAME_TERMINATOR: u16 = 0x0025;

/// One UTF-16 unit of a name field.
fn unit(input: &[u8]) -> IResult<&[u8], u16> {
    le_u16(input)
}

/// Iterates over the 50 raw units of a name field, junk included.
fn raw_units(bytes: &[u8; NAME_LEN]) -> impl Iterator<Item = u16> + '_ {
    nom::combinator::iterator(&bytes[..], unit)
}

/// Units up to (not including) the first `'%'` or NUL.
fn text_units(units: impl Iterator<Item = u16>) -> impl Iterator<Item = u16> {
    units.take_while(|&u| u != NAME_TERMINATOR && u != 0)
}

/// Decodes the text units lossily (unpaired surrogates become U+FFFD).
fn decode(units: impl Iterator<Item = u16>) -> String {
    char::decode_utf16(text_units(units))
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// A borrowed name field: 50 UTF-16LE code units, read in place.
///
/// The text ends at the first `'%'` or NUL; the units after it are junk the game left there
/// and are never decoded as text (they can hold unpaired surrogates). [`raw_units`] shows them.
///
/// [`raw_units`]: NameRef::raw_units
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NameRef<'a> {
    bytes: &'a [u8; NAME_LEN],
}

impl<'a> NameRef<'a> {
    pub(crate) fn new(bytes: &'a [u8; NAME_LEN]) -> Self {
        Self { bytes }
    }

    /// All 50 code units as sent, terminator and junk included.
    pub fn raw_units(&self) -> impl Iterator<Item = u16> + 'a {
        raw_units(self.bytes)
    }

    /// The code units of the text: up to the first `'%'` or NUL.
    pub fn units(&self) -> impl Iterator<Item = u16> + 'a {
        text_units(self.raw_units())
    }

    /// The text, decoded lossily. Allocates.
    pub fn to_string_lossy(&self) -> String {
        decode(self.raw_units())
    }

    /// The 100 bytes of the field as sent.
    pub fn as_bytes(&self) -> &'a [u8; NAME_LEN] {
        self.bytes
    }

    /// An owned copy, junk included, that encodes back to the same bytes.
    pub fn to_owned(&self) -> Name {
        let mut units = [0u16; NAME_UNITS];
        for (slot, u) in units.iter_mut().zip(self.raw_units()) {
            *slot = u;
        }
        Name { units }
    }
}

impl fmt::Debug for NameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

impl fmt::Display for NameRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

/// An owned name field: exactly the 50 code units that go on the wire.
///
/// Build one from text with [`Name::new`] (`'%'` after the text, zeros after that) or
/// [`Name::with_junk`] (caller-chosen units after the `'%'`, as the real game sends).
///
/// ```
/// use purple_sector_core::protocol::Name;
///
/// let name = Name::with_junk("imola", &[0x1c00, 0x3bfb])?;
/// assert_eq!(name.to_string_lossy(), "imola");
/// assert_eq!(name.raw_units()[5..8], [0x25, 0x1c00, 0x3bfb]);
/// # Ok::<(), purple_sector_core::protocol::EncodeError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name {
    units: [u16; NAME_UNITS],
}

impl Name {
    /// `text`, then `'%'`, then zeros. A 50-unit text fills the field with no terminator.
    pub fn new(text: &str) -> Result<Self, EncodeError> {
        Self::with_junk(text, &[])
    }

    /// `text`, then `'%'`, then `junk`, then zeros.
    ///
    /// Fails when the text holds a `'%'` or NUL (it would end the name early on read) or
    /// when text, terminator and junk do not fit in 50 units.
    pub fn with_junk(text: &str, junk: &[u16]) -> Result<Self, EncodeError> {
        let mut units = [0u16; NAME_UNITS];
        let mut len = 0;
        for (index, u) in text.encode_utf16().enumerate() {
            if u == NAME_TERMINATOR || u == 0 {
                return Err(EncodeError::NameContainsTerminator { index, unit: u });
            }
            let Some(slot) = units.get_mut(index) else {
                return Err(EncodeError::NameTooLong {
                    units: text.encode_utf16().count(),
                    max: NAME_UNITS,
                });
            };
            *slot = u;
            len = index + 1;
        }
        if len == NAME_UNITS && junk.is_empty() {
            return Ok(Self { units });
        }
        let needed = len + 1 + junk.len();
        if needed > NAME_UNITS {
            return Err(EncodeError::NameTooLong {
                units: needed,
                max: NAME_UNITS,
            });
        }
        units[len] = NAME_TERMINATOR;
        units[len + 1..needed].copy_from_slice(junk);
        Ok(Self { units })
    }

    /// A name from its raw code units, exactly as they go on the wire.
    pub const fn from_raw_units(units: [u16; NAME_UNITS]) -> Self {
        Self { units }
    }

    /// All 50 code units, terminator and junk included.
    pub const fn raw_units(&self) -> &[u16; NAME_UNITS] {
        &self.units
    }

    /// The text, decoded lossily up to the first `'%'` or NUL.
    pub fn to_string_lossy(&self) -> String {
        decode(self.units.iter().copied())
    }

    /// The 100-byte wire form.
    pub fn encode(&self) -> [u8; NAME_LEN] {
        let mut out = [0u8; NAME_LEN];
        self.encode_into(&mut out);
        out
    }

    pub(crate) fn encode_into(&self, out: &mut [u8; NAME_LEN]) {
        for (chunk, u) in out.chunks_exact_mut(2).zip(self.units) {
            chunk.copy_from_slice(&u.to_le_bytes());
        }
    }
}

impl Default for Name {
    /// The empty name: a `'%'` and zeros.
    fn default() -> Self {
        let mut units = [0u16; NAME_UNITS];
        units[0] = NAME_TERMINATOR;
        Self { units }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl serde::Serialize for Name {
    /// Serializes as the decoded text.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Splits a fixed array into a name field at `at`.
#[inline]
pub(crate) fn name_at<const N: usize>(bytes: &[u8; N], at: usize) -> NameRef<'_> {
    // The callers pass constant offsets with `at + NAME_LEN <= N`; `first_chunk` keeps this
    // panic-free even if one did not.
    const EMPTY: [u8; NAME_LEN] = [0; NAME_LEN];
    let field = bytes
        .get(at..)
        .and_then(<[u8]>::first_chunk::<NAME_LEN>)
        .unwrap_or(&EMPTY);
    NameRef::new(field)
}

/// The mutable counterpart of [`name_at`], for encoders.
pub(crate) fn write_name_at<const N: usize>(name: &Name, bytes: &mut [u8; N], at: usize) {
    if let Some(field) = bytes
        .get_mut(at..)
        .and_then(<[u8]>::first_chunk_mut::<NAME_LEN>)
    {
        name.encode_into(field);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn text_stops_at_percent_and_keeps_junk() {
        let name = Name::with_junk("ks_monza66", &[0xbdaf, 0, 0x0230, 0xd800]).unwrap();
        assert_eq!(name.to_string_lossy(), "ks_monza66");
        let bytes = name.encode();
        let view = NameRef::new(&bytes);
        assert_eq!(view.to_string_lossy(), "ks_monza66");
        assert_eq!(view.units().count(), 10);
        assert_eq!(view.raw_units().nth(10), Some(NAME_TERMINATOR));
        assert_eq!(view.raw_units().nth(14), Some(0xd800));
        assert_eq!(view.to_owned(), name);
    }

    #[test]
    fn text_stops_at_nul() {
        let mut units = [0u16; NAME_UNITS];
        units[..3].copy_from_slice(&[b'a' as u16, b'b' as u16, 0]);
        units[3] = b'c' as u16;
        assert_eq!(Name::from_raw_units(units).to_string_lossy(), "ab");
    }

    #[test]
    fn fifty_units_without_terminator() {
        let text = "x".repeat(50);
        let name = Name::new(&text).unwrap();
        assert_eq!(name.to_string_lossy(), text);
        assert_eq!(
            Name::with_junk(&text, &[1]),
            Err(EncodeError::NameTooLong { units: 52, max: 50 })
        );
        assert_eq!(
            Name::new(&"x".repeat(51)),
            Err(EncodeError::NameTooLong { units: 51, max: 50 })
        );
    }

    #[test]
    fn terminator_in_text_is_refused() {
        assert_eq!(
            Name::new("100%"),
            Err(EncodeError::NameContainsTerminator {
                index: 3,
                unit: 0x25
            })
        );
    }

    #[test]
    fn non_ascii_round_trips() {
        let name = Name::new("Jürgen 🏎").unwrap();
        assert_eq!(NameRef::new(&name.encode()).to_string_lossy(), "Jürgen 🏎");
    }

    #[test]
    fn unpaired_surrogate_is_replaced() {
        let mut units = [0u16; NAME_UNITS];
        units[0] = 0xd800;
        units[1] = b'a' as u16;
        assert_eq!(Name::from_raw_units(units).to_string_lossy(), "\u{fffd}a");
    }
}
