"""The raw data contract as Arrow schemas, and streaming Parquet writers.

This module is the simulator's only file I/O. Files are written to ``<table>.parquet.tmp`` and
renamed when complete, so a reader never sees a half-written table. Row groups are ~1M rows
(chunks are buffered until then); compression is zstd. Same input, same bytes.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TIMESTAMP = pa.timestamp("us")

SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema([
        ("customer_id", pa.string()), ("signup_at", TIMESTAMP), ("email", pa.string()),
        ("country", pa.string()), ("acquisition_channel", pa.string()),
    ]),
    "products": pa.schema([
        ("product_id", pa.string()), ("category", pa.string()), ("brand", pa.string()), ("list_price", pa.float64()),
    ]),
    "orders": pa.schema([
        ("order_id", pa.string()), ("customer_id", pa.string()), ("ordered_at", TIMESTAMP),
        ("status", pa.string()), ("order_total", pa.float64()), ("discount_total", pa.float64()),
    ]),
    "order_items": pa.schema([
        ("order_id", pa.string()), ("product_id", pa.string()), ("quantity", pa.int32()), ("unit_price", pa.float64()),
    ]),
    "events": pa.schema([
        ("event_id", pa.string()), ("customer_id", pa.string()), ("session_id", pa.string()),
        ("event_type", pa.string()), ("product_id", pa.string()), ("occurred_at", TIMESTAMP),
    ]),
    "reviews": pa.schema([
        ("review_id", pa.string()), ("customer_id", pa.string()), ("product_id", pa.string()),
        ("rating", pa.int32()), ("review_text", pa.string()), ("created_at", TIMESTAMP),
    ]),
    "marketing_spend": pa.schema([("spend_date", pa.date32()), ("channel", pa.string()), ("spend", pa.float64())]),
    "experiment_assignments": pa.schema([
        ("experiment_id", pa.string()), ("customer_id", pa.string()), ("variant", pa.string()), ("assigned_at", TIMESTAMP),
    ]),
    "campaign_sends": pa.schema([
        ("campaign_id", pa.string()), ("customer_id", pa.string()), ("sent_at", TIMESTAMP), ("action", pa.string()),
        ("coupon_value", pa.float64()), ("is_control", pa.bool_()),
    ]),
    "support_tickets": pa.schema([
        ("ticket_id", pa.string()), ("customer_id", pa.string()), ("created_at", TIMESTAMP), ("channel", pa.string()),
        ("subject", pa.string()), ("body", pa.string()), ("status", pa.string()), ("resolved_at", TIMESTAMP),
    ]),
}
TABLES: tuple[str, ...] = tuple(SCHEMAS)

# The column that carries unparseable values in each table; it is written as text whenever
# the dataset is dirty (so staging sees the same file shape at any dirty rate > 0).
UNPARSEABLE_COLUMN: dict[str, str] = {
    "customers": "signup_at",
    "products": "list_price",
    "orders": "order_total",
    "order_items": "quantity",
    "events": "occurred_at",
    "reviews": "rating",
    "marketing_spend": "spend",
    "experiment_assignments": "assigned_at",
    "campaign_sends": "coupon_value",
    "support_tickets": "created_at",
}

ROW_GROUP_ROWS = 1_000_000

# Dictionary-encode only the low-cardinality columns: trying it on unique ids and timestamps
# costs a third of the events' write time and makes the file larger.
DICTIONARY_COLUMNS: dict[str, list[str]] = {
    "customers": ["country", "acquisition_channel"],
    "products": ["category", "brand"],
    "orders": ["status"],
    "order_items": ["product_id"],
    "events": ["event_type", "product_id"],
    "reviews": ["product_id", "review_text"],
    "marketing_spend": ["channel"],
    "experiment_assignments": ["experiment_id", "variant"],
    "campaign_sends": ["campaign_id", "action"],
    "support_tickets": ["channel", "subject", "status"],
}


def output_schema(table: str, dirty: bool) -> pa.Schema:
    schema = SCHEMAS[table]
    if not dirty:
        return schema
    column = UNPARSEABLE_COLUMN[table]
    return schema.set(schema.get_field_index(column), pa.field(column, pa.string()))


def as_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Clean typed values as text: ISO 'YYYY-MM-DD HH:MM:SS.ffffff' timestamps, plain numbers."""
    if pa.types.is_string(values.type):
        return values
    if pa.types.is_timestamp(values.type):
        return pc.strftime(values, format="%Y-%m-%d %H:%M:%S")
    return pc.cast(values, pa.string())


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast a typed chunk to the file schema (text where the file keeps a column as text)."""
    columns = []
    for field in schema:
        column = table[field.name]
        if pa.types.is_string(field.type) and not pa.types.is_string(column.type):
            column = as_text(column)
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


class Background:
    """One background thread that runs write jobs in submission order.

    Parquet encoding and zstd release the GIL, so writing chunk i overlaps generating chunk
    i + 1 (the machine has two cores). A single worker keeps the job order, so the bytes of
    every file are the same as with synchronous writes. ``wait(checkpoint)`` bounds the memory
    in flight: the caller waits for the jobs of older chunks before making new ones.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-writer")
        self._pending: list[Future] = []
        self._submitted = 0

    def submit(self, job, *args) -> None:
        self._pending.append(self._pool.submit(job, *args))
        self._submitted += 1

    def checkpoint(self) -> int:
        """A mark for ``wait``: every job submitted so far."""
        return self._submitted

    def wait(self, checkpoint: int | None = None) -> None:
        """Wait for the jobs submitted before ``checkpoint`` (all jobs if None); re-raise errors."""
        done_before = self._submitted - len(self._pending)
        count = len(self._pending) if checkpoint is None else max(0, checkpoint - done_before)
        ready, self._pending = self._pending[:count], self._pending[count:]
        for future in ready:
            future.result()

    def close(self, raise_errors: bool = True) -> None:
        try:
            if raise_errors:
                self.wait()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pending = []


class TableWriter:
    """Buffers chunks of one table and writes ~ROW_GROUP_ROWS-row groups to Parquet.

    With a ``background`` queue, conversion and writing happen on its thread; ``rows`` is
    counted at submission, so it is always up to date on the caller's side.
    """

    def __init__(
        self, path: Path, schema: pa.Schema, background: Background | None = None,
        dictionary_columns: list[str] | None = None,
    ):
        self.path = Path(path)
        self.tmp_path = self.path.with_name(self.path.name + ".tmp")
        self.schema = schema
        self.rows = 0
        self._background = background
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        use_dictionary = True if dictionary_columns is None else dictionary_columns
        self._writer = pq.ParquetWriter(self.tmp_path, schema, compression="zstd", use_dictionary=use_dictionary)

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self.rows += table.num_rows
        if self._background is None:
            self._append(table)
        else:
            self._background.submit(self._append, table)

    def _append(self, table: pa.Table) -> None:
        table = conform(table, self.schema)
        self._buffer.append(table)
        self._buffered += table.num_rows
        if self._buffered >= ROW_GROUP_ROWS:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        if not self._buffer:
            return
        combined = pa.concat_tables(self._buffer)
        whole = (combined.num_rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
        cut = combined.num_rows if final else whole
        if cut:
            self._writer.write_table(combined.slice(0, cut), row_group_size=ROW_GROUP_ROWS)
        rest = combined.slice(cut)
        self._buffer = [rest] if rest.num_rows else []
        self._buffered = rest.num_rows

    def close(self) -> None:
        """Write what is buffered and move the finished file into place (waits for the queue)."""
        if self._background is not None:
            self._background.wait()
        self.finish()

    def finish(self) -> None:
        """``close`` without waiting: to be run as the last job of this writer's queue."""
        self._flush(final=True)
        if self.rows == 0:
            self._writer.write_table(self.schema.empty_table())
        self._writer.close()
        os.replace(self.tmp_path, self.path)

    def abort(self) -> None:
        """Drop a partly written file after an error (never leaves a .tmp behind)."""
        try:
            self._writer.close()
        finally:
            self.tmp_path.unlink(missing_ok=True)
