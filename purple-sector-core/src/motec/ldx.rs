//! `.ldx`: the XML sidecar MoTeC i2 keeps beside an `.ld` file, where it reads the lap beacons
//! and a few details of the session.
//!
//! ```xml
//! <?xml version="1.0"?>
//! <LDXFile Locale="English_United Kingdom.1252" DefaultLocale="C" Version="1.6">
//!  <Layers>
//!   <Layer>
//!    <MarkerBlock>
//!     <MarkerGroup Name="Beacons" Index="3">
//!      <Marker Version="100" ClassName="BCN" Name="Manual.1" Flags="77" Time="9.15400000000000000e+07"/>
//!     </MarkerGroup>
//!    </MarkerBlock>
//!    <RangeBlock/>
//!   </Layer>
//!   <Details>
//!    <String Id="Total Laps" Value="3"/>
//!   </Details>
//!  </Layers>
//! </LDXFile>
//! ```
//!
//! A marker's `Time` is in microseconds from the start of the log, written as C's `%.17e`.

use std::fmt::Write as _;

/// The detail i2 shows as the number of laps.
pub const DETAIL_TOTAL_LAPS: &str = "Total Laps";
/// The detail i2 shows as the fastest lap time (`m:ss.mmm`).
pub const DETAIL_FASTEST_TIME: &str = "Fastest Time";
/// The detail i2 shows as the fastest lap's number.
pub const DETAIL_FASTEST_LAP: &str = "Fastest Lap";

/// An `.ldx` sidecar: the lap beacons and the session details.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Ldx {
    /// The beacon (lap marker) times, in µs from the start of the log, ascending. Exact up to
    /// 2^53 µs (285 years): the file stores them as doubles.
    pub beacons_us: Vec<u64>,
    /// `(Id, Value)` pairs, e.g. `("Total Laps", "12")`, in file order.
    pub details: Vec<(String, String)>,
}

/// Why text is not a readable `.ldx` file. Cheap to copy; offsets are byte offsets in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum LdxError {
    /// A tag, comment, attribute value or entity runs to the end of the text.
    #[error("unterminated {what} starting at byte {offset}")]
    Unterminated {
        /// `"tag"`, `"comment"`, `"attribute value"`, `"entity"` …
        what: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// A tag whose name or attributes do not parse.
    #[error("malformed tag at byte {offset}")]
    MalformedTag {
        /// Where the problem is.
        offset: usize,
    },
    /// An entity other than the five XML ones and character references.
    #[error("unknown entity at byte {offset}")]
    BadEntity {
        /// Where the `&` is.
        offset: usize,
    },
    /// A closing tag that does not close the open element.
    #[error("closing tag at byte {offset} does not match the open element")]
    MismatchedClose {
        /// Where the closing tag is.
        offset: usize,
    },
    /// The first element is not `LDXFile`.
    #[error("not an .ldx file: the root element at byte {offset} is not LDXFile")]
    NotLdx {
        /// Where the root element is.
        offset: usize,
    },
    /// The text ends with elements still open.
    #[error("the text ends with {open} elements still open")]
    Unclosed {
        /// How many.
        open: usize,
    },
    /// An element lacks an attribute this reader needs.
    #[error("{element} at byte {offset} has no {attribute} attribute")]
    MissingAttribute {
        /// `"Marker"` or `"String"`.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
        /// Where the element is.
        offset: usize,
    },
    /// A marker time that is not a non-negative number of microseconds.
    #[error("the marker at byte {offset} has a time that is not a number of µs ≥ 0")]
    BadTime {
        /// Where the marker is.
        offset: usize,
    },
}

impl Ldx {
    /// The value of the detail `id`, if present.
    pub fn detail(&self, id: &str) -> Option<&str> {
        self.details
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, v)| v.as_str())
    }

    /// The document, as MoTeC i2 writes it.
    ///
    /// ```
    /// use purple_sector_core::motec::Ldx;
    ///
    /// let ldx = Ldx {
    ///     beacons_us: vec![91_540_000, 181_040_000],
    ///     details: vec![("Total Laps".into(), "3".into()), ("Fastest Lap".into(), "2".into())],
    /// };
    /// let xml = ldx.to_xml();
    /// assert!(xml.contains(r#"ClassName="BCN" Name="Manual.1" Flags="77" Time="9.15400000000000000e+07""#));
    /// assert_eq!(Ldx::parse(&xml)?, ldx);
    /// # Ok::<(), purple_sector_core::motec::LdxError>(())
    /// ```
    pub fn to_xml(&self) -> String {
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\"?>\n");
        x.push_str(
            "<LDXFile Locale=\"English_United Kingdom.1252\" DefaultLocale=\"C\" Version=\"1.6\">\n",
        );
        x.push_str(" <Layers>\n  <Layer>\n   <MarkerBlock>\n");
        x.push_str("    <MarkerGroup Name=\"Beacons\" Index=\"3\">\n");
        for (i, &t) in self.beacons_us.iter().enumerate() {
            // Writing to a String cannot fail.
            let _ = writeln!(
                x,
                "     <Marker Version=\"100\" ClassName=\"BCN\" Name=\"Manual.{}\" Flags=\"77\" \
                 Time=\"{}\"/>",
                i + 1,
                c_exp17(t as f64)
            );
        }
        x.push_str("    </MarkerGroup>\n   </MarkerBlock>\n   <RangeBlock/>\n  </Layer>\n");
        x.push_str("  <Details>\n");
        for (id, value) in &self.details {
            let _ = writeln!(
                x,
                "   <String Id=\"{}\" Value=\"{}\"/>",
                escape(id),
                escape(value)
            );
        }
        x.push_str("  </Details>\n </Layers>\n</LDXFile>\n");
        x
    }

    /// Reads the beacons and details of an `.ldx` document.
    ///
    /// A beacon is a `Marker` in a `MarkerGroup` named `Beacons`, or any `Marker` of class
    /// `BCN`; its `Time` (µs, any decimal or exponent form) is rounded to the microsecond and
    /// the beacons are sorted. A detail is a `String` in `Details`. Other elements, text,
    /// comments and processing instructions are skipped. Never panics.
    pub fn parse(text: &str) -> Result<Ldx, LdxError> {
        let mut ldx = Ldx::default();
        // The open elements: name, and whether it is a beacon group.
        let mut open: Vec<(&str, bool)> = Vec::new();
        let mut seen_root = false;
        let mut at = 0;
        while let Some(lt) = find(text, at, "<") {
            let rest = &text[lt..];
            if rest.starts_with("<?") {
                at = end_of(text, lt, "?>", "processing instruction")?;
            } else if rest.starts_with("<!--") {
                at = end_of(text, lt, "-->", "comment")?;
            } else if rest.starts_with("<![CDATA[") {
                at = end_of(text, lt, "]]>", "CDATA section")?;
            } else if rest.starts_with("<!") {
                at = end_of(text, lt, ">", "declaration")?;
            } else if rest.starts_with("</") {
                let gt = find(text, lt, ">").ok_or(LdxError::Unterminated {
                    what: "tag",
                    offset: lt,
                })?;
                let name = text[lt + 2..gt].trim();
                match open.pop() {
                    Some((top, _)) if top == name => {}
                    _ => return Err(LdxError::MismatchedClose { offset: lt }),
                }
                at = gt + 1;
            } else {
                let tag = Tag::parse(text, lt)?;
                at = tag.end;
                if !seen_root {
                    if tag.name != "LDXFile" {
                        return Err(LdxError::NotLdx { offset: lt });
                    }
                    seen_root = true;
                } else if open.is_empty() {
                    // A second root element.
                    return Err(LdxError::MalformedTag { offset: lt });
                }
                let parent = open.last().copied();
                let is_beacon_group = tag.name == "MarkerGroup"
                    && tag.attribute("Name")?.as_deref() == Some("Beacons");
                match tag.name {
                    "Marker" => {
                        let in_beacons = matches!(parent, Some((_, true)));
                        let class_bcn = tag.attribute("ClassName")?.as_deref() == Some("BCN");
                        if in_beacons || class_bcn {
                            let time =
                                tag.attribute("Time")?.ok_or(LdxError::MissingAttribute {
                                    element: "Marker",
                                    attribute: "Time",
                                    offset: lt,
                                })?;
                            ldx.beacons_us.push(
                                parse_time_us(&time).ok_or(LdxError::BadTime { offset: lt })?,
                            );
                        }
                    }
                    "String" if matches!(parent, Some(("Details", _))) => {
                        let missing = |attribute| LdxError::MissingAttribute {
                            element: "String",
                            attribute,
                            offset: lt,
                        };
                        let id = tag.attribute("Id")?.ok_or(missing("Id"))?;
                        let value = tag.attribute("Value")?.ok_or(missing("Value"))?;
                        ldx.details.push((id, value));
                    }
                    _ => {}
                }
                if !tag.self_closing {
                    open.push((tag.name, is_beacon_group));
                }
            }
        }
        if !seen_root {
            return Err(LdxError::NotLdx { offset: text.len() });
        }
        if !open.is_empty() {
            return Err(LdxError::Unclosed { open: open.len() });
        }
        ldx.beacons_us.sort_unstable();
        Ok(ldx)
    }
}

/// The byte offset of `needle` at or after `from`.
fn find(text: &str, from: usize, needle: &str) -> Option<usize> {
    text.get(from..)?.find(needle).map(|i| from + i)
}

/// The offset just past the `close` that ends the construct starting at `start`.
fn end_of(text: &str, start: usize, close: &str, what: &'static str) -> Result<usize, LdxError> {
    find(text, start + 2, close)
        .map(|i| i + close.len())
        .ok_or(LdxError::Unterminated {
            what,
            offset: start,
        })
}

/// An opening or empty-element tag.
struct Tag<'a> {
    name: &'a str,
    /// Raw `(name, value, offset of the value)` triples, values still escaped.
    attributes: Vec<(&'a str, &'a str, usize)>,
    self_closing: bool,
    /// Just past the `>`.
    end: usize,
}

impl<'a> Tag<'a> {
    /// The tag whose `<` is at `lt`.
    fn parse(text: &'a str, lt: usize) -> Result<Self, LdxError> {
        let bytes = text.as_bytes();
        let is_space = |b: u8| b.is_ascii_whitespace();
        let mut i = lt + 1;
        let name_start = i;
        while i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'>' && bytes[i] != b'/' {
            i += 1;
        }
        let name = &text[name_start..i];
        if name.is_empty() {
            return Err(LdxError::MalformedTag { offset: lt });
        }
        let mut attributes = Vec::new();
        loop {
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            match bytes.get(i) {
                None => {
                    return Err(LdxError::Unterminated {
                        what: "tag",
                        offset: lt,
                    });
                }
                Some(b'>') => {
                    return Ok(Self {
                        name,
                        attributes,
                        self_closing: false,
                        end: i + 1,
                    });
                }
                Some(b'/') => {
                    return match bytes.get(i + 1) {
                        Some(b'>') => Ok(Self {
                            name,
                            attributes,
                            self_closing: true,
                            end: i + 2,
                        }),
                        None => Err(LdxError::Unterminated {
                            what: "tag",
                            offset: lt,
                        }),
                        Some(_) => Err(LdxError::MalformedTag { offset: i }),
                    };
                }
                Some(_) => {}
            }
            let key_start = i;
            while i < bytes.len() && !is_space(bytes[i]) && !matches!(bytes[i], b'=' | b'>' | b'/')
            {
                i += 1;
            }
            let key = &text[key_start..i];
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            if bytes.get(i) != Some(&b'=') {
                return Err(LdxError::MalformedTag { offset: i });
            }
            i += 1;
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            let quote = match bytes.get(i) {
                Some(&q @ (b'"' | b'\'')) => q,
                None => {
                    return Err(LdxError::Unterminated {
                        what: "tag",
                        offset: lt,
                    });
                }
                Some(_) => return Err(LdxError::MalformedTag { offset: i }),
            };
            let value_start = i + 1;
            let value_end = bytes[value_start..]
                .iter()
                .position(|&b| b == quote)
                .map(|p| value_start + p)
                .ok_or(LdxError::Unterminated {
                    what: "attribute value",
                    offset: i,
                })?;
            attributes.push((key, &text[value_start..value_end], value_start));
            i = value_end + 1;
        }
    }

    /// The unescaped value of attribute `key`, if the tag has it.
    fn attribute(&self, key: &str) -> Result<Option<String>, LdxError> {
        self.attributes
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|&(_, v, offset)| unescape(v, offset))
            .transpose()
    }
}

/// A marker time in µs: any non-negative decimal, rounded to the microsecond.
fn parse_time_us(text: &str) -> Option<u64> {
    let t: f64 = text.trim().parse().ok()?;
    let t = t.round();
    // 2^64 as f64; `as` saturates, so the bound keeps the conversion exact.
    (0.0..18_446_744_073_709_551_616.0)
        .contains(&t)
        .then_some(t as u64)
}

/// `x` as C's `printf("%.17e")`: `1.61520000000000000e+08`.
fn c_exp17(x: f64) -> String {
    let s = format!("{x:.17e}");
    match s.split_once('e') {
        Some((mantissa, exponent)) => {
            let (sign, digits) = match exponent.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exponent),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

/// Attribute text with `& < > " '` and control characters as references.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if u32::from(c) < 0x20 || c == '\u{7F}' => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Attribute text with its entity and character references resolved; `offset` is where the
/// text starts, for errors.
fn unescape(text: &str, offset: usize) -> Result<String, LdxError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut at = offset;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').ok_or(LdxError::Unterminated {
            what: "entity",
            offset: at + amp,
        })?;
        let entity = &after[..semi];
        let bad = LdxError::BadEntity { offset: at + amp };
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32).ok_or(bad)?
            }
        };
        out.push(c);
        let consumed = amp + 1 + semi + 1;
        rest = &rest[consumed..];
        at += consumed;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Ldx {
        Ldx {
            beacons_us: vec![91_540_000, 181_040_000, 270_999_999],
            details: vec![
                (DETAIL_TOTAL_LAPS.into(), "4".into()),
                (DETAIL_FASTEST_TIME.into(), "1:29.500".into()),
                (DETAIL_FASTEST_LAP.into(), "2".into()),
            ],
        }
    }

    #[test]
    fn writes_the_structure_i2_writes() {
        let xml = sample().to_xml();
        let expected = r#"<?xml version="1.0"?>
<LDXFile Locale="English_United Kingdom.1252" DefaultLocale="C" Version="1.6">
 <Layers>
  <Layer>
   <MarkerBlock>
    <MarkerGroup Name="Beacons" Index="3">
     <Marker Version="100" ClassName="BCN" Name="Manual.1" Flags="77" Time="9.15400000000000000e+07"/>
     <Marker Version="100" ClassName="BCN" Name="Manual.2" Flags="77" Time="1.81040000000000000e+08"/>
     <Marker Version="100" ClassName="BCN" Name="Manual.3" Flags="77" Time="2.70999999000000000e+08"/>
    </MarkerGroup>
   </MarkerBlock>
   <RangeBlock/>
  </Layer>
  <Details>
   <String Id="Total Laps" Value="4"/>
   <String Id="Fastest Time" Value="1:29.500"/>
   <String Id="Fastest Lap" Value="2"/>
  </Details>
 </Layers>
</LDXFile>
"#;
        assert_eq!(xml, expected);
        assert_eq!(Ldx::parse(&xml).unwrap(), sample());
        assert_eq!(sample().detail("Fastest Lap"), Some("2"));
        assert_eq!(sample().detail("Best"), None);
    }

    #[test]
    fn times_print_as_c_does() {
        assert_eq!(c_exp17(0.0), "0.00000000000000000e+00");
        assert_eq!(c_exp17(5.0), "5.00000000000000000e+00");
        assert_eq!(c_exp17(161_520_000.096_569_42), "1.61520000096569419e+08");
        assert_eq!(c_exp17(1e100), "1.00000000000000002e+100");
        assert_eq!(c_exp17(0.5), "5.00000000000000000e-01");
    }

    #[test]
    fn reads_files_other_tools_write() {
        // Beacons out of order, fractional and exponent times, single quotes, a comment,
        // a marker group of another name, CRLF line ends, and markers found by class alone.
        let xml = "<?xml version=\"1.0\"?>\r\n<!-- exported -->\r\n\
            <LDXFile Version=\"1.6\"><Layers><Layer><MarkerBlock>\r\n\
            <MarkerGroup Name=\"Beacons\" Index=\"1\">\r\n\
            <Marker Version=\"100\" ClassName=\"BCN\" Name=\"Auto GPS 2\" Flags=\"77\" Time=\"6.62360432425654292e+08\"/>\r\n\
            <Marker Version='100' ClassName='BCN' Name='Auto GPS 1' Flags='77' Time='2.58129811370032370e+08' />\r\n\
            </MarkerGroup>\r\n\
            <MarkerGroup Name=\"Other\"><Marker ClassName=\"XYZ\" Time=\"oops\"/></MarkerGroup>\r\n\
            <MarkerGroup><Marker ClassName=\"BCN\" Time=\"5000000.000000\"/></MarkerGroup>\r\n\
            </MarkerBlock></Layer><Details><String Value=\"2\" Id=\"Total Laps\"/>\
            <String Id=\"Note\" Value=\"a &lt;b&gt; &amp; &quot;c&quot; &#233;&#x20AC;\"/></Details>\
            </Layers></LDXFile>\r\n";
        let ldx = Ldx::parse(xml).unwrap();
        assert_eq!(ldx.beacons_us, [5_000_000, 258_129_811, 662_360_432]);
        assert_eq!(
            ldx.details,
            [
                ("Total Laps".to_string(), "2".to_string()),
                ("Note".to_string(), "a <b> & \"c\" é€".to_string()),
            ]
        );
    }

    #[test]
    fn escapes_what_attributes_cannot_hold() {
        assert_eq!(
            escape("a&b<c>d\"e'f\tg\nh\u{1}"),
            "a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g&#10;h&#1;"
        );
        assert_eq!(unescape("&#9;&#x41;&apos;", 0).unwrap(), "\tA'");
        assert_eq!(
            unescape("x &nbsp;", 7),
            Err(LdxError::BadEntity { offset: 9 })
        );
        assert_eq!(
            unescape("x &amp", 7),
            Err(LdxError::Unterminated {
                what: "entity",
                offset: 9
            })
        );
        assert_eq!(
            unescape("&#xD800;", 0),
            Err(LdxError::BadEntity { offset: 0 })
        );
    }

    #[test]
    fn bad_documents_give_typed_errors() {
        let cases: [(&str, LdxError); 9] = [
            ("", LdxError::NotLdx { offset: 0 }),
            ("<html></html>", LdxError::NotLdx { offset: 0 }),
            (
                "<LDXFile><Layers></LDXFile>",
                LdxError::MismatchedClose { offset: 17 },
            ),
            ("<LDXFile><Layers>", LdxError::Unclosed { open: 2 }),
            (
                "<LDXFile><Marker ClassName=\"BCN\" Time=\"1",
                LdxError::Unterminated {
                    what: "attribute value",
                    offset: 38,
                },
            ),
            (
                "<LDXFile><Marker ClassName=\"BCN\"/></LDXFile>",
                LdxError::MissingAttribute {
                    element: "Marker",
                    attribute: "Time",
                    offset: 9,
                },
            ),
            (
                "<LDXFile><Marker ClassName=\"BCN\" Time=\"-5\"/></LDXFile>",
                LdxError::BadTime { offset: 9 },
            ),
            (
                "<LDXFile><Details><String Id=\"a\"/></Details></LDXFile>",
                LdxError::MissingAttribute {
                    element: "String",
                    attribute: "Value",
                    offset: 18,
                },
            ),
            (
                "<LDXFile><Marker Time 5/></LDXFile>",
                LdxError::MalformedTag { offset: 22 },
            ),
        ];
        for (xml, error) in cases {
            assert_eq!(Ldx::parse(xml), Err(error), "{xml}");
        }
        assert_eq!(
            Ldx::parse("<LDXFile><!-- open"),
            Err(LdxError::Unterminated {
                what: "comment",
                offset: 9
            })
        );
        assert_eq!(
            Ldx::parse("<LDXFile/><LDXFile/>"),
            Err(LdxError::MalformedTag { offset: 10 })
        );
    }

    fn ldx() -> impl Strategy<Value = Ldx> {
        (
            proptest::collection::vec(0u64..=1 << 53, 0..20),
            proptest::collection::vec((any::<String>(), any::<String>()), 0..6),
        )
            .prop_map(|(mut beacons_us, details)| {
                beacons_us.sort_unstable();
                Ldx {
                    beacons_us,
                    details,
                }
            })
    }

    proptest! {
        #[test]
        fn ldx_round_trips(ldx in ldx()) {
            prop_assert_eq!(Ldx::parse(&ldx.to_xml()).unwrap(), ldx);
        }

        #[test]
        fn any_text_parses_or_fails_without_panicking(text in any::<String>(), cut in any::<prop::sample::Index>()) {
            let _ = Ldx::parse(&text);
            let xml = sample().to_xml();
            let mut end = cut.index(xml.len());
            while !xml.is_char_boundary(end) {
                end -= 1;
            }
            let _ = Ldx::parse(&xml[..end]);
            let _ = Ldx::parse(&format!("{}{}", &xml[..end], text));
        }
    }
}
