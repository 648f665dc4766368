"""Label Studio's brush RLE (the ``rle-pack`` bit format), encoded and decoded with numpy.

The SDK's ``mask2rle`` builds a Python string of bits run by run; on a 12-megapixel mask that is most of a
prediction's time. :func:`mask_to_rle` writes the same bytes (a test compares them on random masks) from run
tables. :func:`rle_to_alpha` reads a region back after checking its header against the size the region claims,
so a crafted region cannot make us allocate more than the image it belongs to.

Format: a 32-bit value count, 5 bits word size - 1, four 4-bit run-length field sizes - 1 (3, 4, 8, 16); then per
run a repeat bit, 2 bits choosing the field size, the count - 1, and the value (or, without the repeat bit, that
many literal values); zero bits pad to a byte, a whole zero byte when the bits already fill one (as the SDK does).
"""
from __future__ import annotations

import numpy as np

RLE_SIZES = (3, 4, 8, 16)
WORD_BITS = 8
LONGEST_RUN = 1 << 16
CHUNK = 1 << 20  # runs packed per step, so a noise mask needs tens of MB, not gigabytes


class RLEError(ValueError):
    """A brush RLE that does not decode to the size its region claims."""


def _header(count: int) -> tuple[np.ndarray, np.ndarray]:
    sizes = [(size - 1, 4) for size in RLE_SIZES]
    fields = [(count, 32), (WORD_BITS - 1, 5), *sizes]
    return np.array([f[0] for f in fields], np.uint64), np.array([f[1] for f in fields], np.int64)


def _run_codes(values: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code, bit width) of each run as the SDK writes it: runs longer than 65536 become 65536-long pieces and a rest."""
    pieces = (lengths + LONGEST_RUN - 1) // LONGEST_RUN
    values = np.repeat(values, pieces).astype(np.uint64)
    piece_lengths = np.full(int(pieces.sum()), LONGEST_RUN, np.int64)
    last = np.cumsum(pieces) - 1
    piece_lengths[last] = lengths - (pieces - 1) * LONGEST_RUN
    # the smallest field that holds L-1; every piece of a run over 256 values keeps the 16-bit field, as the SDK's
    index = np.searchsorted(np.array([1 << s for s in RLE_SIZES]), np.repeat(lengths, pieces)).clip(max=len(RLE_SIZES) - 1)
    field_bits = np.array(RLE_SIZES, np.int64)[index]
    repeat = (piece_lengths > 1).astype(np.uint64)  # a single value is written as a one-value literal
    widths = 1 + 2 + field_bits + WORD_BITS
    codes = (repeat << (widths - 1).astype(np.uint64)) | (index.astype(np.uint64) << (field_bits + WORD_BITS).astype(np.uint64))
    codes |= (piece_lengths - 1).astype(np.uint64) << np.uint64(WORD_BITS)
    return codes | values, widths


def _bits(codes: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """The concatenated bits (uint8 0/1) of variable-width codes, most significant bit first."""
    aligned = (codes << (64 - widths).astype(np.uint64)).astype(">u8")
    matrix = np.unpackbits(aligned.view(np.uint8)).reshape(len(codes), 64)
    return matrix[np.arange(64) < widths[:, None]]


def mask_to_rle(mask: np.ndarray) -> list[int]:
    """Label Studio brush RLE of a 2-D uint8 mask (each value repeated in R, G, B and alpha), as the SDK's
    ``mask2rle`` writes it."""
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError("mask must be a 2-D uint8 array")
    flat = mask.ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [flat.size]])) * 4  # RGBA: every value four times in a row
    values = flat[starts]
    parts = [_bits(*_header(flat.size * 4))]
    for begin in range(0, len(starts), CHUNK):
        parts.append(_bits(*_run_codes(values[begin : begin + CHUNK], lengths[begin : begin + CHUNK])))
    bits = np.concatenate(parts)
    bits = np.concatenate([bits, np.zeros(8 - len(bits) % 8, np.uint8)])
    return np.packbits(bits).tolist()


class _BitReader:
    def __init__(self, data: np.ndarray):
        self.text = (np.unpackbits(data) + ord("0")).tobytes().decode("ascii")
        self.position = 0

    def read(self, count: int) -> int:
        end = self.position + count
        if end > len(self.text):
            raise RLEError("the RLE ends in the middle of a run")
        value = int(self.text[self.position : end], 2)
        self.position = end
        return value


def declared_length(rle: object) -> int:
    """The number of values an RLE's header announces (RLEError when it has no header)."""
    data = _as_bytes(rle)
    if len(data) < 4:
        raise RLEError("the RLE is shorter than its header")
    return int.from_bytes(data[:4].tobytes(), "big")


def _as_bytes(rle: object) -> np.ndarray:
    if not isinstance(rle, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in rle):
        raise RLEError("the RLE is not a list of integers")
    data = np.array(rle, dtype=np.int64)
    if data.size and (data.min() < 0 or data.max() > 255):
        raise RLEError("the RLE has values outside 0..255")
    return data.astype(np.uint8)


def rle_to_alpha(rle: object, height: int, width: int) -> np.ndarray:
    """The alpha channel (height, width) uint8 of a brush RLE; RLEError unless its header announces exactly
    ``height x width`` RGBA values and the runs fill them."""
    data = _as_bytes(rle)
    expected = height * width * 4
    if declared_length(rle) != expected:
        raise RLEError(f"the RLE announces {declared_length(rle)} values, the region {width}x{height} needs {expected}")
    reader = _BitReader(data)
    reader.read(32)
    if reader.read(5) + 1 != WORD_BITS:
        raise RLEError("the RLE's word size is not 8 bits")
    sizes = [reader.read(4) + 1 for _ in range(4)]
    values: list[int] = []
    lengths: list[int] = []
    filled = 0
    while filled < expected:
        repeat = reader.read(1)
        count = reader.read(sizes[reader.read(2)]) + 1
        if filled + count > expected:
            raise RLEError("the RLE's runs overflow the region")
        if repeat:
            values.append(reader.read(WORD_BITS))
            lengths.append(count)
        else:
            values.extend(reader.read(WORD_BITS) for _ in range(count))
            lengths.extend([1] * count)
        filled += count
    flat = np.repeat(np.array(values, np.uint8), np.array(lengths, np.int64))
    return flat.reshape(height, width, 4)[..., 3]
