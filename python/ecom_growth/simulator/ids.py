"""Fast fixed-width string ids ("C00000042") and categorical strings as Arrow arrays.

Formatting tens of millions of ids with Python (or even with a string-concatenating dataframe
expression) dominates the simulator's run time. A fixed-width id is just a byte matrix of
ASCII digits, so it is built with integer arithmetic in numpy and handed to Arrow as raw
buffers, with no per-row Python object anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    """``prefix`` + zero-padded ``numbers`` (0 <= n < 10**width) as an Arrow string array."""
    return strings_from_bytes(id_bytes(prefix, numbers, width))


def strings_from_bytes(rows: np.ndarray) -> pa.StringArray:
    """An (n, width) uint8 matrix of ASCII rows as an Arrow string array (no copy of the bytes)."""
    n, row = rows.shape
    if (n + 1) * row >= 2**31:
        raise ValueError("too many ids for one Arrow string array: format them in chunks")
    offsets = np.arange(0, (n + 1) * row, row, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(rows).reshape(-1)))


class FixedWidthIds:
    """Ids of one width kept as a byte matrix: ``take`` is a row gather, several times faster
    than a string gather, which matters for the tens of millions of ids in the events."""

    def __init__(self, prefix: str, numbers: np.ndarray, width: int):
        self.rows = id_bytes(prefix, numbers, width)
        self._records = self.rows.view(np.dtype((np.void, self.rows.shape[1]))).reshape(-1)

    def __len__(self) -> int:
        return self.rows.shape[0]

    @property
    def array(self) -> pa.StringArray:
        return strings_from_bytes(self.rows)

    def take(self, index: np.ndarray) -> pa.StringArray:
        picked = np.take(self._records, np.asarray(index, dtype=np.intp))
        return strings_from_bytes(picked.view(np.uint8).reshape(-1, self.rows.shape[1]))


def id_bytes(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """(n, len(prefix) + width) uint8 matrix of the ASCII ids."""
    values = np.asarray(numbers, dtype=np.int64)
    if values.size and (values.min() < 0 or values.max() >= 10**width):
        raise ValueError(f"id numbers must be within [0, 10**{width}) for prefix {prefix!r}")
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    row = len(head) + width
    if row % 4 == 0 and 1 <= len(head) <= 3:
        return _four_byte_words(prefix, values, width).view(np.uint8).reshape(values.size, row)
    # Digits are written row-wise (one contiguous row per digit position, uint32 arithmetic,
    # which numpy divides fast) and transposed once at the end.
    digits = np.empty((row, values.size), dtype=np.uint8)
    digits[: len(head)] = head[:, None]
    position = row - 1
    for part, n_digits in ((values % 10**9, min(9, width)), (values // 10**9, max(0, width - 9))):
        rest = part.astype(np.uint32)
        for _ in range(n_digits):
            digits[position] = rest % 10
            digits[position] += 48
            rest //= 10
            position -= 1
    return np.ascontiguousarray(digits.T)


def take_strings(labels: Sequence[str], codes: np.ndarray) -> pa.StringArray:
    """``labels[codes]`` as an Arrow string array (a C++ gather, not a Python loop)."""
    return pa.array(list(labels), type=pa.string()).take(pa.array(np.asarray(codes, dtype=np.int64)))


_DIGITS4 = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode("ascii"), dtype=np.uint32)


def _four_byte_words(prefix: str, values: np.ndarray, width: int) -> np.ndarray:
    """Rows of 4-byte words, each filled by one gather from a table of 4-character strings.

    The fast path for ids whose length is a multiple of 4 (e.g. "E" + 11 digits): three
    table lookups per id instead of eleven divisions.
    """
    lead = 4 - len(prefix)  # digits sharing the first word with the prefix
    n_words = (len(prefix) + width) // 4
    head = np.frombuffer("".join(f"{prefix}{i:0{lead}d}" for i in range(10**lead)).encode("ascii"), dtype=np.uint32)
    words = np.empty((values.size, n_words), dtype=np.uint32)
    # uint32 division is several times faster than int64 in numpy: use it when values fit.
    rest = values.astype(np.uint32) if values.size and values.max() < 2**32 else values.copy()
    for word in range(n_words - 1, 0, -1):
        words[:, word] = _DIGITS4[rest % 10_000]
        rest //= 10_000
    words[:, 0] = head[rest]
    return words


def rank_in_groups(group: np.ndarray) -> np.ndarray:
    """0-based position of each row within its run of equal ``group`` values (rows grouped)."""
    n = group.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.ones(n, dtype=bool)
    new[1:] = group[1:] != group[:-1]
    starts = np.flatnonzero(new)
    return np.arange(n) - np.repeat(starts, np.diff(np.append(starts, n)))


def composite_numbers(parent: np.ndarray, sequence: np.ndarray, digits: int, what: str) -> np.ndarray:
    """parent x 10**digits + sequence: an id that depends only on its parent and its rank there,
    never on a counter running over the window (so a shorter window keeps every id)."""
    if sequence.size and sequence.max() >= 10**digits:
        raise ValueError(f"more than {10**digits - 1} {what} under one parent: widen the id")
    return np.asarray(parent, dtype=np.int64) * 10**digits + sequence
