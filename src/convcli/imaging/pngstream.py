"""A PNG writer that takes rows as they come, for 8- and 16-bit gray, gray+alpha, RGB and RGBA.

Written by hand because Pillow encodes a PNG from a whole image in memory and has no 16-bit
colour modes, and pypng streams rows but leaves them unfiltered and converts them in Python.
Each row gets the filter libpng's heuristic (and Pillow's) would pick: the one of None, Sub,
Up, Average and Paeth whose bytes, read as signed, sum to the least magnitude. The filters are
computed for a whole band of rows at once with numpy; zlib compresses as rows arrive.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}
"""PNG colour type by channel count: gray, gray+alpha, RGB, RGBA."""
IDAT_BYTES = 1 << 20
"""Compressed bytes gathered before an IDAT chunk is written."""
FILTER_BYTES = 1 << 22
"""Raw bytes filtered in one numpy pass."""


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _signed_cost(rows: np.ndarray) -> np.ndarray:
    """Per row, the sum of the bytes' magnitudes read as signed (libpng's filter heuristic)."""
    return np.abs(rows.view(np.int8).astype(np.int16)).sum(axis=1, dtype=np.int64)


def filter_rows(raw: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    """Filter rows of bytes (n, L) whose first row follows ``previous`` (L,): returns (n, 1 + L)
    with each row's filter type byte first."""
    up = np.vstack([previous[None, :], raw[:-1]])
    left = np.zeros_like(raw)
    left[:, bpp:] = raw[:, :-bpp]
    upleft = np.zeros_like(raw)
    upleft[:, bpp:] = up[:, :-bpp]
    a, b, c = (x.astype(np.int16) for x in (left, up, upleft))
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
    average = ((a + b) >> 1).astype(np.uint8)
    candidates = np.stack([raw, raw - left, raw - up, raw - average, raw - paeth])  # uint8: wraps mod 256
    costs = np.stack([_signed_cost(c) for c in candidates])
    choice = np.argmin(costs, axis=0)  # the first of equal costs, as libpng
    out = np.empty((raw.shape[0], raw.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = choice
    out[:, 1:] = candidates[choice, np.arange(raw.shape[0])]
    return out


class PngWriter:
    """Write a PNG of ``width``×``height`` to ``stream``, rows added in order with :meth:`add`.

    ``channels`` 1–4 (gray, gray+alpha, RGB, RGBA), ``bitdepth`` 8 or 16, zlib ``level`` 0–9.
    """

    def __init__(self, stream: BinaryIO, width: int, height: int, channels: int, bitdepth: int, level: int = 6):
        if channels not in COLOUR_TYPES or bitdepth not in (8, 16):
            raise ValueError(f"PNG cannot hold {channels} channels of {bitdepth} bits")
        self.stream, self.width, self.height = stream, width, height
        self.channels, self.bitdepth = channels, bitdepth
        self.bpp = channels * bitdepth // 8
        self.rows_written = 0
        self.previous = np.zeros(width * self.bpp, dtype=np.uint8)
        self.compressor = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_FILTERED)  # as libpng for filtered rows
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        header = struct.pack(">IIBBBBB", width, height, bitdepth, COLOUR_TYPES[channels], 0, 0, 0)
        stream.write(SIGNATURE + _chunk(b"IHDR", header))

    def add(self, rows: np.ndarray) -> None:
        """Append rows: (n, width) or (n, width, channels), uint8 or uint16 as ``bitdepth`` says."""
        dtype = np.dtype(">u2") if self.bitdepth == 16 else np.dtype(np.uint8)
        raw = np.ascontiguousarray(rows, dtype=dtype).view(np.uint8).reshape(len(rows), -1)
        if raw.shape[1] != self.previous.size:
            raise ValueError(f"rows of {raw.shape[1]} bytes, expected {self.previous.size}")
        if self.rows_written + len(raw) > self.height:
            raise ValueError(f"more than {self.height} rows")
        step = max(1, FILTER_BYTES // max(1, raw.shape[1]))
        for start in range(0, len(raw), step):  # a few megabytes at a time: the filters' temporaries stay small
            part = raw[start : start + step]
            filtered = filter_rows(part, self.previous, self.bpp)
            self.previous = part[-1].copy()
            self.rows_written += len(part)
            self._emit(self.compressor.compress(filtered.tobytes()))

    def _emit(self, data: bytes, *, flush: bool = False) -> None:
        if data:
            self.pending.append(data)
            self.pending_bytes += len(data)
        if self.pending and (flush or self.pending_bytes >= IDAT_BYTES):
            self.stream.write(_chunk(b"IDAT", b"".join(self.pending)))
            self.pending, self.pending_bytes = [], 0

    def close(self) -> None:
        """Finish the image (every row must have been added)."""
        if self.rows_written != self.height:
            raise ValueError(f"{self.rows_written} rows written of {self.height}")
        self._emit(self.compressor.flush(), flush=True)
        self.stream.write(_chunk(b"IEND", b""))


def encode_png(pixels: np.ndarray, level: int = 6) -> bytes:
    """A whole (H, W[, C]) uint8 or uint16 array as PNG bytes."""
    import io

    buffer = io.BytesIO()
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    writer = PngWriter(
        buffer, pixels.shape[1], pixels.shape[0], channels, 16 if pixels.dtype == np.uint16 else 8, level
    )
    writer.add(pixels)
    writer.close()
    return buffer.getvalue()
