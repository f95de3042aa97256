"""AEDAT 4.0 recordings (iniVation DV cameras: DVXplorer, DAVIS).

The container (iniVation's published format): the text ``#!AER-DAT4.0\\r\\n``, a little-endian uint32 length and
that many bytes of an ``IOHeader`` FlatBuffer (compression, position of the packet table, and an XML ``infoNode``
naming each stream: its type identifier, ``EVTS`` for polarity events, and the sensor size ``sizeX``/``sizeY``).
Then packets: int32 stream id, int32 byte size, and the body, compressed as the header says (none, LZ4 frames or
Zstd frames); decompressed it is a size-prefixed FlatBuffer.  An ``EVTS`` body is a table whose only field is a
vector of 16-byte structs ``{int64 t (µs), int16 x, int16 y, bool on}``.

Two independent decoders read it:

* :func:`read_aedat4` uses the ``aedat`` package (MIT, neuromorphicsystems, Rust) when it is installed
  (``pip install snnc[aedat]``);
* :func:`read_aedat4_flatbuffers` is snnc's own minimal reader of the layout above (numpy + ``lz4``/``zstandard``
  for the compressed bodies), used when ``aedat`` is absent and, in the tests, to cross-check it.

Times are returned relative to the first event (AEDAT 4 stores wall-clock microseconds since 1970).
Only the polarity events are returned; frames, IMU samples and triggers are skipped.
"""
from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from snnc.compiler.errors import SnncError

MAGIC = b"#!AER-DAT4.0\r\n"
COMPRESSION = {0: "none", 1: "lz4", 2: "lz4", 3: "zstd", 4: "zstd"}
EVENT_STRUCT = np.dtype([("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "u1"), ("_pad", "V3")])


def read_aedat4(path: Path) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Events and sensor ``(width, height)`` of an AEDAT 4 file, with the ``aedat`` package if installed."""
    try:
        import aedat  # noqa: F401
    except ImportError:
        return read_aedat4_flatbuffers(path)
    return read_aedat4_package(path)


def _finish(t, x, y, on, size):
    from .layout import make_events

    t = np.asarray(t, np.int64)
    t0 = int(t.min()) if t.size else 0
    return make_events(x, y, t - t0, np.asarray(on).astype(np.int8)), size


def read_aedat4_package(path: Path):
    """Decode with the ``aedat`` package (the reference decoder)."""
    import aedat

    parts = []
    try:
        dec = aedat.Decoder(str(path))
        streams = dec.id_to_stream()
        ev_ids = [i for i, s in streams.items() if s.get("type") == "events"]
        if not ev_ids:
            raise SnncError(f"{path}: the AEDAT 4 file has no polarity-event stream (streams: "
                            f"{', '.join(s.get('type', '?') for s in streams.values())})")
        sid = min(ev_ids)
        size = (int(streams[sid]["width"]), int(streams[sid]["height"]))
        for packet in dec:
            if packet["stream_id"] == sid and "events" in packet:
                parts.append(packet["events"])
    except SnncError:
        raise
    except Exception as e:  # the Rust decoder raises plain exceptions for truncated or corrupt files
        raise SnncError(f"{path}: corrupt or truncated AEDAT 4 file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    ev = np.concatenate(parts) if parts else np.zeros(0, [("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("on", "?")])
    return _finish(ev["t"], ev["x"], ev["y"], ev["on"], size)


# ------------------------------------------------------------------ snnc's own minimal FlatBuffers reader
class _Buf:
    """Bounds-checked little-endian reads from one FlatBuffer; any read past the end is a corrupt file."""

    def __init__(self, data: bytes, what: str):
        self.d, self.what = data, what

    def _get(self, fmt: str, pos: int):
        n = struct.calcsize(fmt)
        if pos < 0 or pos + n > len(self.d):
            raise SnncError(f"{self.what}: corrupt AEDAT 4 FlatBuffer (a read at byte {pos} is outside its "
                            f"{len(self.d)} bytes)")
        return struct.unpack_from(fmt, self.d, pos)[0]

    def root(self, at: int = 0) -> int:
        return at + self._get("<I", at)

    def field(self, table: int, index: int) -> int | None:
        """Position of field ``index`` of the table at ``table``, or None when absent."""
        vt = table - self._get("<i", table)
        vt_size = self._get("<H", vt)
        slot = 4 + 2 * index
        if slot + 2 > vt_size:
            return None
        off = self._get("<H", vt + slot)
        return table + off if off else None

    def scalar(self, table: int, index: int, fmt: str, default):
        pos = self.field(table, index)
        return default if pos is None else self._get(fmt, pos)

    def vector(self, table: int, index: int) -> tuple[int, int]:
        """(start of the elements, element count) of a vector or string field; (0, 0) when absent."""
        pos = self.field(table, index)
        if pos is None:
            return 0, 0
        start = pos + self._get("<I", pos)
        return start + 4, self._get("<I", start)


def _parse_header(data: bytes, what: str) -> tuple[int, int, str]:
    if not data.startswith(MAGIC):
        raise SnncError(f"{what}: not an AEDAT 4 file (no '#!AER-DAT4.0' header)")
    if len(data) < len(MAGIC) + 4:
        raise SnncError(f"{what}: truncated AEDAT 4 file (it ends inside the header)")
    n = struct.unpack_from("<I", data, len(MAGIC))[0]
    start = len(MAGIC) + 4
    if start + n > len(data):
        raise SnncError(f"{what}: truncated AEDAT 4 file (the header needs {n} bytes, {len(data) - start} remain)")
    b = _Buf(data[start:start + n], what)
    root = b.root()
    compression = b.scalar(root, 0, "<i", 0)
    table_pos = b.scalar(root, 1, "<q", -1)
    s, length = b.vector(root, 2)
    if s + length > len(b.d):
        raise SnncError(f"{what}: corrupt AEDAT 4 header (its XML runs past the header)")
    info = b.d[s:s + length].decode("utf-8", "replace")
    if compression not in COMPRESSION:
        raise SnncError(f"{what}: AEDAT 4 header names compression {compression}, which is not one of 0-4")
    return start + n, compression, table_pos, info


def _event_streams(info: str, what: str) -> dict[int, tuple[int, int] | None]:
    """Stream id -> sensor (width, height) for every ``EVTS`` stream named in the header's XML."""
    try:
        root = ET.fromstring(info)
    except ET.ParseError as e:
        raise SnncError(f"{what}: corrupt AEDAT 4 header (its XML does not parse: {e})") from None
    out = {}
    for node in root.iter("node"):
        attrs = {a.get("key"): a.text for a in node.findall("attr")}
        if attrs.get("typeIdentifier") == "EVTS" and node.get("name", "").isdigit():
            sub = {a.get("key"): a.text for n in node.iter("node") if n.get("name") == "info"
                   for a in n.findall("attr")}
            try:
                size = (int(sub["sizeX"]), int(sub["sizeY"]))
            except (KeyError, TypeError, ValueError):
                size = None
            out[int(node.get("name"))] = size
    return out


def _decompress(body: bytes, compression: int, what: str) -> bytes:
    kind = COMPRESSION[compression]
    try:
        if kind == "lz4":
            import lz4.frame

            out = lz4.frame.LZ4FrameDecompressor().decompress(body, max_length=(1 << 31) + 1)
            if len(out) > 1 << 31:  # as zstd below: a packet inflating past 2 GiB is a bomb, not a recording
                raise SnncError(f"{what}: an AEDAT 4 packet inflates to more than 2 GiB; not a recording snnc reads")
            return out
        if kind == "zstd":
            import zstandard

            return zstandard.ZstdDecompressor().decompress(body, max_output_size=1 << 31)
    except SnncError:
        raise
    except ImportError as e:
        raise SnncError(f"{what}: this AEDAT 4 file is {kind}-compressed and the {e.name} package is missing; "
                        "pip install 'snnc[aedat]'") from None
    except Exception as e:
        raise SnncError(f"{what}: corrupt AEDAT 4 packet (the {kind} data does not decompress: "
                        f"{str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    return body


def read_aedat4_flatbuffers(path: Path):
    """Decode an AEDAT 4 file with snnc's own reader (independent of the ``aedat`` package)."""
    what = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise SnncError(f"{path}: cannot read ({e.strerror or e})") from None
    pos, compression, table_pos, info = _parse_header(data, what)
    streams = _event_streams(info, what)
    if not streams:
        raise SnncError(f"{what}: the AEDAT 4 file has no polarity-event (EVTS) stream")
    sid = min(streams)
    end = table_pos if 0 <= table_pos <= len(data) else len(data)
    parts = []
    while pos < end:
        if pos + 8 > end:
            raise SnncError(f"{what}: truncated AEDAT 4 file (it ends inside a packet header at byte {pos})")
        stream, size = struct.unpack_from("<ii", data, pos)
        if size < 0 or pos + 8 + size > end:
            raise SnncError(f"{what}: truncated AEDAT 4 file (a packet at byte {pos} needs {size} bytes, "
                            f"{end - pos - 8} remain)")
        if stream == sid:
            body = _decompress(data[pos + 8:pos + 8 + size], compression, what)
            b = _Buf(body, what)
            root = b.root(4)  # size-prefixed: uint32 size, then the root offset (relative to byte 4)
            s, count = b.vector(root, 0)
            n_bytes = count * EVENT_STRUCT.itemsize
            if s + n_bytes > len(body):
                raise SnncError(f"{what}: corrupt AEDAT 4 packet (its {count} events run past its end)")
            parts.append(np.frombuffer(body, EVENT_STRUCT, count, s))
        pos += 8 + size
    ev = np.concatenate(parts) if parts else np.zeros(0, EVENT_STRUCT)
    return _finish(ev["t"], ev["x"], ev["y"], ev["on"], streams[sid])


# ------------------------------------------------------------------ a minimal writer (tests, examples)
def encode_aedat4(events, sensor_size: tuple[int, int], compression: str = "lz4", packet_events: int = 4096,
                  t0_us: int = 1_600_000_000_000_000) -> bytes:
    """The bytes of an AEDAT 4 file holding ``events`` as one EVTS stream (id 0) of a ``sensor_size`` camera.
    Times are written as ``t0_us + t`` (wall clock, as cameras do); no packet table is written."""
    comp = {"none": 0, "lz4": 1, "zstd": 3}[compression]
    w, h = sensor_size
    info = (f'<dv version="2.0"><node name="outInfo" path="/mainloop/Recorder/outInfo/">'
            f'<node name="0" path="/mainloop/Recorder/outInfo/0/">'
            f'<attr key="compression" type="string">{compression.upper()}</attr>'
            f'<attr key="originalModuleName" type="string">snnc</attr>'
            f'<attr key="originalOutputName" type="string">events</attr>'
            f'<attr key="typeDescription" type="string">Array of events (polarity ON/OFF).</attr>'
            f'<attr key="typeIdentifier" type="string">EVTS</attr>'
            f'<node name="info" path="/mainloop/Recorder/outInfo/0/info/">'
            f'<attr key="sizeX" type="int">{w}</attr><attr key="sizeY" type="int">{h}</attr>'
            f'<attr key="source" type="string">snnc</attr>'
            f'</node></node></node></dv>').encode()
    # IOHeader table: vtable (3 fields), table: soffset, compression i32, pad, position i64, info offset
    header = _table_bytes([("<i", comp), ("<q", -1)], info, b"IOHE")
    out = [MAGIC, struct.pack("<I", len(header)), header]
    ev = np.asarray(events)
    for a in range(0, max(len(ev), 1), packet_events):
        chunk = ev[a:a + packet_events]
        rec = np.zeros(len(chunk), EVENT_STRUCT)
        rec["t"], rec["x"], rec["y"], rec["on"] = chunk["t"] + t0_us, chunk["x"], chunk["y"], chunk["p"]
        body = _packet_bytes(rec.tobytes(), len(chunk))
        if comp == 1:
            import lz4.frame

            body = lz4.frame.compress(body)
        elif comp == 3:
            import zstandard

            body = zstandard.ZstdCompressor().compress(body)
        out.append(struct.pack("<ii", 0, len(body)) + body)
        if not len(ev):
            break
    return b"".join(out)


def _table_bytes(scalars, string: bytes, ident: bytes) -> bytes:
    """A FlatBuffer whose root table has ``scalars`` (fields 0..) and a string (the last field)."""
    n_fields = len(scalars) + 1
    vt_size = 4 + 2 * n_fields
    # layout: [root u32][ident 4][vtable][pad][table: soffset i32, fields...][string]
    vt_pos = 8
    table_pos = vt_pos + vt_size
    table_pos += (-table_pos) % 8
    fields, off = [], 4
    body = b""
    for fmt, val in scalars:
        n = struct.calcsize(fmt)
        pad = (-(table_pos + 4 + len(body))) % n
        body += b"\0" * pad
        fields.append(4 + len(body))
        body += struct.pack(fmt, val)
    pad = (-(table_pos + 4 + len(body))) % 4
    body += b"\0" * pad
    str_field = 4 + len(body)
    fields.append(str_field)
    body += b"\0\0\0\0"  # the string's offset, filled below
    table_size = 4 + len(body)
    str_pos = table_pos + table_size
    vtable = struct.pack("<HH", vt_size, table_size) + b"".join(struct.pack("<H", f) for f in fields)
    buf = bytearray(struct.pack("<I", table_pos) + ident + vtable + b"\0" * (table_pos - vt_pos - vt_size))
    buf += struct.pack("<i", table_pos - vt_pos) + body
    struct.pack_into("<I", buf, table_pos + str_field, str_pos - (table_pos + str_field))
    buf += struct.pack("<I", len(string)) + string + b"\0"
    buf += b"\0" * ((-len(buf)) % 8)
    return bytes(buf)


def _packet_bytes(elements: bytes, count: int) -> bytes:
    """A size-prefixed EVTS FlatBuffer: a table with one field, the vector of 16-byte event structs."""
    # after the size prefix: [root u32][ident 'EVTS'][vtable: 3 u16 + pad][table: soffset, vector offset][len]
    # [elements]; the elements start 8-aligned counted from the prefix, as a FlatBuffers builder places them
    vt_pos, table_pos, vec_len_pos = 8, 16, 24
    inner = bytearray(struct.pack("<I", table_pos) + b"EVTS" + struct.pack("<HHH", 6, 8, 4) + b"\0\0")
    inner += struct.pack("<i", table_pos - vt_pos) + struct.pack("<I", vec_len_pos - (table_pos + 4))
    inner += b"\0" * (vec_len_pos - len(inner))
    inner += struct.pack("<I", count) + elements
    return struct.pack("<I", len(inner)) + bytes(inner)
