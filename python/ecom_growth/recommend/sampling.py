"""Seeded user samples that bound the cost of the evaluation's hyperparameter search.

The validation grid (every ALS configuration, the kNN grid, the popularity variants) fits one
model per configuration. On a large shop it runs on a fixed-size sample of customers instead of
all of them: the ranking of configurations needs enough evaluable users to tell them apart,
not every user, and the selected configuration is refitted on everyone for the test report.

A customer is in the sample when its seeded hash (blake2b of seed and id: the same on every
platform and library version, unlike polars' ``hash``) is among the ``max_users`` smallest: a
function of the set of ids and the seed only (input order and duplicates do not matter), and
each customer's draw does not depend on the others', so a few new customers move the sample
only at its margin. Below the cap every customer is kept, so small shops evaluate exactly as
without a cap.
"""

from __future__ import annotations

import hashlib

import polars as pl

from ecom_growth.recommend.matrix import USER_COL


def sample_users(users: pl.Series, *, max_users: int | None, seed: int) -> pl.Series:
    """At most ``max_users`` distinct ids of ``users``, sorted, drawn without replacement by a
    seeded hash (module docstring). ``max_users`` None, or at least the number of distinct ids:
    every id. Nulls are an error (a null key cannot be sampled consistently)."""
    if max_users is not None and (isinstance(max_users, bool) or int(max_users) < 1):
        raise ValueError(f"max_users must be a positive integer or None, got {max_users!r}")
    if users.null_count():
        raise ValueError(f"users has {users.null_count()} null value(s)")
    ids = users.cast(pl.String).unique().rename(USER_COL)
    if max_users is None or ids.len() <= max_users:
        return ids.sort()
    # ties of the 64-bit hash (practically none) are broken by the id, so the sample is total
    return (
        pl.DataFrame({USER_COL: ids})
        .with_columns(_h=pl.Series([_seeded_hash(seed, i) for i in ids.to_list()], dtype=pl.UInt64))
        .sort(["_h", USER_COL])
        .head(int(max_users))
        .get_column(USER_COL)
        .sort()
    )


def cap_from_var(value: object) -> int | None:
    """A sample cap from a dbt var: a positive integer, or None for "no sample" (the var is 0,
    null, or rendered by dbt as the text 'None'/'null'/'')."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    if isinstance(value, bool) or int(value) < 0 or int(value) != float(value):
        raise ValueError(f"a sample cap must be a non-negative integer or null, got {value!r}")
    return int(value) or None


def _seeded_hash(seed: int, user_id: str) -> int:
    """64-bit blake2b of the seed and the id (stable across polars versions and platforms)."""
    return int.from_bytes(hashlib.blake2b(f"{seed}\x1f{user_id}".encode(), digest_size=8).digest(), "little")
