#!/usr/bin/env python3
"""Independent reader of MoTeC i2 ``.ld`` log files (and ``.ldx`` sidecars).

This is a test oracle: Purple Sector writes ``.ld`` files with its own Rust code, and this
script reads them back using only the public, reverse-engineered description of the layout.
It uses only the Python 3.11 standard library and shares no code with the project's writer.

Usage::

    python3 ld_reader.py FILE.ld [--lenient]

It prints one JSON object on stdout::

    {"header":   {driver, vehicle, venue, date, time, short_comment, event, session,
                  long_comment, device_type, device_serial, device_version, num_channels},
     "channels": [{name, short_name, unit, frequency_hz, count, dtype, shift, mul, scale,
                   dec, values: [...], extra: {...}}, ...],
     "ldx":      {"beacons_us": [...], "details": {id: value}} or null,
     "layout":   {pointers, magic/unknown header words, event/venue/vehicle blocks}}

``values`` are the physical values of every sample, as JSON numbers; a non-finite value
(possible only in float channels) is written as the string "nan", "inf" or "-inf" so that
the output stays strict JSON. ``ldx`` is read from the file beside FILE.ld with the same stem
and the suffix ``.ldx`` (or ``.LDX``); it is null when there is none.

On a malformed file the script prints one line on stderr, saying what is wrong and at which
byte offset, and exits with status 2 (status 1 means wrong usage or an unreadable file).
``--lenient`` turns the consistency checks that real third-party writers are known to break
(see "Strictness" below) into warnings on stderr, so that their files can still be read.

Public references the layout was learned from (read, not copied)
-----------------------------------------------------------------
* gotzl/ldparser (GPL-3.0), ``ldparser.py``: header, event, venue, vehicle and channel
  struct formats; the value formula; data-type codes 0/3/5 = integer, 7 = float.
* afonso360/motec-i2 (MIT), ``src/reader.rs``, ``src/structs.rs``: the same fields with
  names, the header "session" string at 0x5E4, the 124-byte channel block, and the tests
  that pin MoTeC's own ``samples/Sample1.ld`` (pointers 0x3448/0x5A10/0x06E2, 78 channels).
* LukasLichten/motec-i2, branch ``completion`` (MIT fork of the above), ``src/reader.rs``,
  ``src/structs.rs``: the venue and vehicle pointers as u32, the pointer after the venue
  pointer in the event block, the venue length and best lap, the vehicle block in full
  (description, engine id, weight, fuel tank, drive type, gear ratios, track, wheelbase,
  comment), the i8 data type (3, 1) seen in rFactor 2 DAMP logs, and the channel word at
  +16 being a flags/feature word.
* riccardotornesello/motecldparser (MIT, Go writer), ``ldfile/*.go``: the same layout as
  gotzl's; writes event -> venue -> vehicle -> channel blocks -> data, in that order.
* GeekyDeaks/sim-to-motec, ``stm/motec/ld.py`` and ``stm/motec/ldx.py``: the header words
  0x042 = 1,000,000 and 0x054 = 128 as magic values needed by i2; the ``.ldx`` layout
  (LDXFile/Layers/Layer/MarkerBlock/MarkerGroup "Beacons"/Marker ClassName="BCN" with Time
  in microseconds since the start of the log; Details/String Id=... Value=...).
* Own observation on MoTeC's ``Sample1.ld`` (as shipped in afonso360/motec-i2): the 40-byte
  tail of every channel block holds, at +84 and +88, two i32 equal to the maximum and the
  minimum raw value of that channel's data (true for all 78 channels); and each 64-byte
  string field of the header ends with a 0x20 byte after its NUL padding.

Conventions
-----------
All integers are little-endian. ``u16``/``u32``/``i16``/``i32`` are unsigned/signed
integers of that width. ``Ns`` is a fixed field of N bytes holding text padded with NULs;
the text is everything before the first NUL, decoded as UTF-8, or as Latin-1 where that
fails, and is NOT otherwise trimmed (Sample1 has short names such as "Engine " with a
trailing space; gotzl's reader strips it, this one does not). A pointer is an absolute byte
offset in the file; 0 means "none".

``dtype`` is "f32", "f16", "i16" or "i32", or "i8" for the (3, 1) type of rFactor 2 DAMP
logs; it is null only for a channel with no samples whose type is not recognised (the
iRacing exporter writes such channels). Errors in a .ldx report the byte offset in the .ldx.

Header block (offset 0, 0x6E2 = 1762 bytes)
-------------------------------------------
====== ======= ===================================================================
offset type    meaning
====== ======= ===================================================================
0x000  u32     marker, always 0x40 (64)
0x004  u32     unknown, 0 in every file seen
0x008  u32     pointer to the first channel block (head of the linked list)
0x00C  u32     pointer to the start of the channel data area
0x010  20 B    unknown, zeros in Sample1 (not zero in some ACC files)
0x024  u32     pointer to the event block (0 = none); 0x6E2 when it follows the header
0x028  24 B    unknown, zeros in Sample1
0x040  u16     unknown: 0 in Sample1, 1 in files written by gotzl's/the Go writer
0x042  u32     magic 1,000,000 (0x000F4240; older readers split it into u16 0x4240,
               u16 0x000F)
0x046  u32     device serial (12007 in Sample1; 8004 = 0x1F44 from gotzl's writer)
0x04A  8s      device type, "ADL" in every file seen
0x052  u16     device version, 420 in every file seen
0x054  u16     unknown magic: 128 (0x0080) in Sample1, 0xADB0 from gotzl's writer
0x056  u32     number of channels
0x05A  u32     unknown: 0x00010064 in Sample1 (u16 100, u16 1), 0 from gotzl's writer
0x05E  16s     date, "dd/mm/yyyy"
0x06E  16 B    unknown
0x07E  16s     time, "hh:mm:ss" (some writers "hh:mm")
0x08E  16 B    unknown
0x09E  64s     driver
0x0DE  64s     vehicle id
0x11E  64 B    unknown
0x15E  64s     venue
0x19E  64 B    unknown
0x1DE  1024 B  unknown
0x5DE  u32     "pro logging" word: 0x00D20822 in Sample1, 0x000C81A4 from gotzl's writer
0x5E2  u16     unknown, 0
0x5E4  64s     session (gotzl's and the Go writer leave it zero and put the session in
               the event block only)
0x624  64s     short comment
0x664  126 B   unknown (Sample1: u8 99 at 0x66C, rest zero)
====== ======= ===================================================================

Event block (at the header's event pointer; 1154 bytes in the minimal form)
---------------------------------------------------------------------------
====== ======= ===================================================================
+0     64s     event name
+64    64s     session
+128   1024s   long comment
+1152  u32     pointer to the venue block (gotzl's and the Go writer declare it u16 and
               put the venue right after, at +1154; MoTeC's own files use 4 bytes)
+1156  u32     another pointer (LukasLichten: weather block), present in MoTeC files;
               read only if it lies inside the file
====== ======= ===================================================================

Venue block (at the event's venue pointer; 1102 bytes)
-------------------------------------------------------
====== ======= ===================================================================
+0     64s     venue name
+64    u16     unknown
+66    i32     venue length, mm (LukasLichten)
+70    i32     venue best lap, ms (LukasLichten)
+74    1024 B  unknown
+1098  u32     pointer to the vehicle block (u16 in gotzl's/the Go writer)
====== ======= ===================================================================

Vehicle block (at the venue's vehicle pointer; 260 bytes minimum, 1312 in full)
-------------------------------------------------------------------------------
====== ======= ===================================================================
+0     64s     vehicle id
+64    64s     description (LukasLichten; unknown to gotzl)
+128   64s     engine id (LukasLichten; unknown to gotzl)
+192   u16     weight, kg (gotzl reads a u32 here: weight + the next field)
+194   u16     fuel tank, 0.1 L (LukasLichten)
+196   32s     vehicle type
+228   32s     drive type (LukasLichten); gotzl and the Go writer call it "comment"
+260   11 i16  gear ratios x1000: final drive, then gears 1..10 (LukasLichten)
+282   i16     track width, mm;  +284 i16 wheelbase, mm;  +286 i16 laps per tank x100
+288   1024s   vehicle comment (LukasLichten)
====== ======= ===================================================================

Channel block (124 bytes each; a doubly linked list from header 0x008)
----------------------------------------------------------------------
====== ======= ===================================================================
+0     u32     pointer to the previous channel block (0 for the first)
+4     u32     pointer to the next channel block (0 for the last)
+8     u32     pointer to this channel's samples
+12    u32     number of samples
+16    u16     unknown id/flags word (Sample1: 0x0004, 0x0F50, ..., 0x006E for Beacon;
               gotzl's writer: 0x2EE1 + index)
+18    u16     data-type class: 0, 3 or 5 = signed integer (0 seen on the Beacon
               channel), 7 = IEEE float
+20    u16     sample size in bytes: 2 or 4 (1 = i8, integer class only)
+22    u16     sample rate, Hz
+24    i16     shift (offset)
+26    i16     mul
+28    i16     scale
+30    i16     dec (decimal places)
+32    32s     name
+64    8s      short name
+72    12s     unit
+84    40 B    unknown (32 bytes in some files); in Sample1 +84 i32 = raw maximum and
               +88 i32 = raw minimum of the data, the rest zero
====== ======= ===================================================================

The samples of a channel are ``count`` consecutive little-endian values of the block's type
at its data pointer. The published formula (gotzl/ldparser, sim-to-motec) gives the
physical value of a raw sample x:

    value = (x / scale * 10 ** -dec + shift) * mul

For f32 data with shift 0, mul 1, scale 1, dec 0 this is x itself, exactly. Here 10**-dec
is applied as a division by the integer 10**dec (see ``physical``), which can differ from
gotzl's literal ``* pow(10, -dec)`` in the last bit.

Strictness
----------
Always errors: a file shorter than the header; a marker other than 0x40; any pointer into
the header or past the end of the file; a truncated block; a loop in the channel list; an
unknown data type on a channel with samples; scale 0; samples running past the end of the
file; an unreadable .ldx.
Errors unless --lenient: a channel whose prev pointer is not the block before it; a walked
channel count different from the header's; a venue or vehicle pointer whose u32 value is
past the end of the file while its low u16 is inside it (the u16-pointer writers), which
--lenient then follows as a u16.
"""

import json
import math
import os
import struct
import sys
import xml.etree.ElementTree as ET

HEADER_SIZE = 0x6E2
LD_MARKER = 0x40
CHANNEL_BLOCK_SIZE = 124
EVENT_MIN_SIZE = 1154
VENUE_SIZE = 1102
VEHICLE_MIN_SIZE = 260
VEHICLE_FULL_SIZE = 1312

# (class, size) -> (dtype name, struct code)
INT_CLASSES = (0, 3, 5)
FLOAT_CLASS = 7


class Malformed(Exception):
    """The file breaks the layout: message names what and where."""

    def __init__(self, what, offset):
        super().__init__(what)
        self.what = what
        self.offset = offset

    def line(self, path):
        return f"{path}: malformed: {self.what} at offset {self.offset} (0x{self.offset:X})"


class Reader:
    def __init__(self, data, lenient=False):
        self.d = data
        self.lenient = lenient
        self.warnings = []

    # -- primitives ---------------------------------------------------------------
    def need(self, off, size, what):
        if off < 0 or off + size > len(self.d):
            raise Malformed(f"{what} ({size} bytes) runs past the end of the file "
                            f"(file is {len(self.d)} bytes)", off)

    def u16(self, off):
        return struct.unpack_from("<H", self.d, off)[0]

    def i16(self, off):
        return struct.unpack_from("<h", self.d, off)[0]

    def u32(self, off):
        return struct.unpack_from("<I", self.d, off)[0]

    def i32(self, off):
        return struct.unpack_from("<i", self.d, off)[0]

    def text(self, off, size):
        raw = self.d[off:off + size]
        nul = raw.find(b"\0")
        if nul >= 0:
            raw = raw[:nul]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def soft(self, what, offset):
        """A consistency failure: an error, or a warning when lenient."""
        if not self.lenient:
            raise Malformed(what, offset)
        self.warnings.append(f"warning: {what} at offset {offset} (0x{offset:X})")

    def check_ptr(self, ptr, size, what, field_off):
        """A non-zero pointer must point past the header and leave room for `size` bytes."""
        if ptr < HEADER_SIZE:
            raise Malformed(f"{what} pointer 0x{ptr:X} points into the file header", field_off)
        if ptr + size > len(self.d):
            raise Malformed(f"{what} pointer 0x{ptr:X} leaves no room for its {size}-byte "
                            f"block (file is {len(self.d)} bytes)", field_off)

    def block_ptr(self, field_off, size, what):
        """Read a u32 block pointer, with the u16 fallback for --lenient (see docstring)."""
        ptr = self.u32(field_off)
        if ptr == 0:
            return 0, 4
        if ptr + size > len(self.d):
            low = ptr & 0xFFFF
            if HEADER_SIZE <= low and low + size <= len(self.d):
                self.soft(f"{what} pointer as u32 is 0x{ptr:X}, past the end of the file; "
                          f"as u16 it would be 0x{low:X}", field_off)
                return low, 2
        self.check_ptr(ptr, size, what, field_off)
        return ptr, 4

    # -- blocks -------------------------------------------------------------------
    def header(self):
        d = self.d
        if len(d) < HEADER_SIZE:
            raise Malformed(f"file is {len(d)} bytes, shorter than the {HEADER_SIZE}-byte "
                            "header", len(d))
        marker = self.u32(0x000)
        if marker != LD_MARKER:
            raise Malformed(f"header marker is 0x{marker:X}, expected 0x40", 0x000)
        return {
            "marker": marker,
            "unknown_004": self.u32(0x004),
            "channel_meta_ptr": self.u32(0x008),
            "channel_data_ptr": self.u32(0x00C),
            "unknown_010_nonzero": any(d[0x010:0x024]),
            "event_ptr": self.u32(0x024),
            "unknown_028_nonzero": any(d[0x028:0x040]),
            "unknown_040": self.u16(0x040),
            "magic_042": self.u32(0x042),
            "device_serial": self.u32(0x046),
            "device_type": self.text(0x04A, 8),
            "device_version": self.u16(0x052),
            "unknown_054": self.u16(0x054),
            "num_channels": self.u32(0x056),
            "unknown_05a": self.u32(0x05A),
            "date": self.text(0x05E, 16),
            "time": self.text(0x07E, 16),
            "driver": self.text(0x09E, 64),
            "vehicle": self.text(0x0DE, 64),
            "venue": self.text(0x15E, 64),
            "pro_logging_5de": self.u32(0x5DE),
            "unknown_5e2": self.u16(0x5E2),
            "session_5e4": self.text(0x5E4, 64),
            "short_comment": self.text(0x624, 64),
        }

    def event(self, ptr):
        self.check_ptr(ptr, EVENT_MIN_SIZE, "event", 0x024)
        venue_ptr, width = self.block_ptr(ptr + 1152, VENUE_SIZE, "event's venue")
        ev = {
            "offset": ptr,
            "name": self.text(ptr, 64),
            "session": self.text(ptr + 64, 64),
            "comment": self.text(ptr + 128, 1024),
            "venue_ptr": venue_ptr,
            "venue_ptr_width": width,
            "ptr_1156": None,
        }
        if width == 4 and ptr + 1160 <= len(self.d):
            ev["ptr_1156"] = self.u32(ptr + 1156)
        return ev

    def venue(self, ptr):
        vehicle_ptr, width = self.block_ptr(ptr + 1098, VEHICLE_MIN_SIZE, "venue's vehicle")
        return {
            "offset": ptr,
            "name": self.text(ptr, 64),
            "unknown_64": self.u16(ptr + 64),
            "length_mm": self.i32(ptr + 66),
            "best_lap_ms": self.i32(ptr + 70),
            "vehicle_ptr": vehicle_ptr,
            "vehicle_ptr_width": width,
        }

    def vehicle(self, ptr):
        v = {
            "offset": ptr,
            "id": self.text(ptr, 64),
            "description": self.text(ptr + 64, 64),
            "engine_id": self.text(ptr + 128, 64),
            "weight_kg": self.u16(ptr + 192),
            "fuel_tank_dl": self.u16(ptr + 194),
            "type": self.text(ptr + 196, 32),
            "drive_type": self.text(ptr + 228, 32),
            "full_block": False,
        }
        if ptr + VEHICLE_FULL_SIZE <= len(self.d):
            v["full_block"] = True
            v["gear_ratios_x1000"] = list(struct.unpack_from("<11h", self.d, ptr + 260))
            v["track_width_mm"] = self.i16(ptr + 282)
            v["wheelbase_mm"] = self.i16(ptr + 284)
            v["laps_per_tank_x100"] = self.i16(ptr + 286)
            v["comment"] = self.text(ptr + 288, 1024)
        return v

    def channels(self, first_ptr, declared):
        out = []
        seen = set()
        ptr = first_ptr
        prev_block = 0
        link_off = 0x008  # where the pointer we are following was read from
        while ptr:
            if ptr in seen:
                raise Malformed(f"channel list loops back to block 0x{ptr:X}", link_off)
            seen.add(ptr)
            self.check_ptr(ptr, CHANNEL_BLOCK_SIZE, f"channel #{len(out)} block", link_off)
            ch = self.channel(ptr)
            if ch["_prev"] != prev_block:
                self.soft(f"channel #{len(out)} '{ch['name']}' prev pointer is "
                          f"0x{ch['_prev']:X}, expected 0x{prev_block:X}", ptr)
            out.append(ch)
            prev_block = ptr
            link_off = ptr + 4
            ptr = ch.pop("_next")
            ch.pop("_prev")
        if len(out) != declared:
            self.soft(f"channel list has {len(out)} blocks but the header says {declared}",
                      0x056)
        return out

    def channel(self, p):
        (prev, nxt, data_ptr, count, word16, klass, size, freq,
         shift, mul, scale, dec) = struct.unpack_from("<IIIIHHHHhhhh", self.d, p)
        name = self.text(p + 32, 32)
        dtype, code = None, None
        if klass == FLOAT_CLASS and size in (2, 4):
            dtype, code = {2: ("f16", "e"), 4: ("f32", "f")}[size]
        elif klass in INT_CLASSES and size in (1, 2, 4):
            dtype, code = {1: ("i8", "b"), 2: ("i16", "h"), 4: ("i32", "i")}[size]
        values = []
        if count:
            if dtype is None:
                raise Malformed(f"channel '{name}' has unknown data type (class {klass}, "
                                f"size {size})", p + 18)
            if scale == 0:
                raise Malformed(f"channel '{name}' has scale 0", p + 28)
            if data_ptr < HEADER_SIZE:
                raise Malformed(f"channel '{name}' data pointer 0x{data_ptr:X} points into "
                                "the file header", p + 8)
            nbytes = count * size
            if data_ptr + nbytes > len(self.d):
                raise Malformed(f"channel '{name}' data ({count} x {size} bytes at "
                                f"0x{data_ptr:X}) runs past the end of the file "
                                f"({len(self.d)} bytes)", p + 8)
            raws = struct.unpack_from(f"<{count}{code}", self.d, data_ptr)
            values = [json_number(physical(x, shift, mul, scale, dec)) for x in raws]
        return {
            "name": name,
            "short_name": self.text(p + 64, 8),
            "unit": self.text(p + 72, 12),
            "frequency_hz": freq,
            "count": count,
            "dtype": dtype,
            "shift": shift,
            "mul": mul,
            "scale": scale,
            "dec": dec,
            "values": values,
            "extra": {
                "offset": p,
                "data_ptr": data_ptr,
                "word_16": word16,
                "type_class": klass,
                "type_size": size,
                "tail_i32_84": self.i32(p + 84),
                "tail_i32_88": self.i32(p + 88),
                "tail_rest_nonzero": any(self.d[p + 92:p + 124]),
            },
            "_prev": prev,
            "_next": nxt,
        }


def physical(x, shift, mul, scale, dec):
    """The published formula, (x / scale * 10**-dec + shift) * mul.

    10**-dec is applied as a division by the exact integer 10**dec when dec > 0, so that
    e.g. raw 199 with dec 1 gives 19.9 and not 19.900000000000002; this differs from a
    literal multiplication by 0.1 by at most a rounding step.
    """
    v = x / scale
    if dec > 0:
        v = v / (10 ** dec)
    elif dec < 0:
        v = v * (10 ** -dec)
    return (v + shift) * mul


def json_number(x):
    if math.isfinite(x):
        return x
    if math.isnan(x):
        return "nan"
    return "inf" if x > 0 else "-inf"


def read_ldx(path):
    """Return {"beacons_us": [...], "details": {...}}; raise Malformed on bad XML."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as e:
        line, col = e.position
        lines = raw.split(b"\n")
        offset = sum(len(x) + 1 for x in lines[:line - 1]) + col
        reason = str(e).split(":")[0]
        raise Malformed(f"{os.path.basename(path)} is not well-formed XML ({reason}, line "
                        f"{line} column {col})", offset) from None
    if root.tag != "LDXFile":
        raise Malformed(f"{os.path.basename(path)} root element is <{root.tag}>, "
                        "expected <LDXFile>", 0)
    beacons = []
    for group in root.iter("MarkerGroup"):
        for marker in group.iter("Marker"):
            cls = marker.get("ClassName")
            if cls is not None and cls != "BCN":
                continue
            if cls is None and group.get("Name") != "Beacons":
                continue
            t = marker.get("Time")
            try:
                beacons.append(float(t))
            except (TypeError, ValueError):
                raise Malformed(f"{os.path.basename(path)} beacon marker "
                                f"'{marker.get('Name')}' has Time={t!r}", 0) from None
    details = {}
    for block in root.iter("Details"):
        for item in block:
            key = item.get("Id")
            if key is None:
                continue
            value = item.get("Value")
            if value is None:
                value = item.get("Number", item.text or "")
            details[key] = value
    return {"beacons_us": beacons, "details": details}


def find_ldx(ld_path):
    stem, _ = os.path.splitext(ld_path)
    for suffix in (".ldx", ".LDX"):
        if os.path.isfile(stem + suffix):
            return stem + suffix
    return None


def read(path, lenient=False):
    with open(path, "rb") as f:
        data = f.read()
    r = Reader(data, lenient)
    h = r.header()
    event = venue = vehicle = None
    if h["event_ptr"]:
        event = r.event(h["event_ptr"])
        if event["venue_ptr"]:
            venue = r.venue(event["venue_ptr"])
            if venue["vehicle_ptr"]:
                vehicle = r.vehicle(venue["vehicle_ptr"])
    if h["channel_meta_ptr"]:
        chans = r.channels(h["channel_meta_ptr"], h["num_channels"])
    else:
        chans = []
        if h["num_channels"]:
            r.soft(f"header says {h['num_channels']} channels but the channel pointer is 0",
                   0x008)
    if h["channel_data_ptr"] > len(data):
        raise Malformed(f"channel data pointer 0x{h['channel_data_ptr']:X} is past the end "
                        "of the file", 0x00C)
    ldx_path = find_ldx(path)
    out = {
        "header": {
            "driver": h["driver"],
            "vehicle": h["vehicle"],
            "venue": h["venue"],
            "date": h["date"],
            "time": h["time"],
            "short_comment": h["short_comment"],
            "event": event["name"] if event else "",
            "session": event["session"] if event else "",
            "long_comment": event["comment"] if event else "",
            "device_type": h["device_type"],
            "device_serial": h["device_serial"],
            "device_version": h["device_version"],
            "num_channels": h["num_channels"],
        },
        "channels": chans,
        "ldx": read_ldx(ldx_path) if ldx_path else None,
        "layout": {
            "file_size": len(data),
            "header": {k: v for k, v in h.items()
                       if k not in ("driver", "vehicle", "venue", "date", "time",
                                    "short_comment", "device_type", "device_serial",
                                    "device_version", "num_channels")},
            "event": event,
            "venue": venue,
            "vehicle": vehicle,
            "ldx_path": ldx_path,
        },
    }
    return out, r.warnings


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    flags = [a for a in argv[1:] if a.startswith("--")]
    if len(args) != 1 or any(f != "--lenient" for f in flags):
        print("usage: ld_reader.py FILE.ld [--lenient]", file=sys.stderr)
        return 1
    path = args[0]
    try:
        out, warnings = read(path, lenient="--lenient" in flags)
    except Malformed as e:
        print(e.line(path), file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{path}: cannot read: {e}", file=sys.stderr)
        return 1
    for w in warnings:
        print(f"{path}: {w}", file=sys.stderr)
    json.dump(out, sys.stdout, ensure_ascii=False, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
