"""Critical-path-first node order for dbt's worker threads (issue 16: the full build's wall time).

dbt-core 1.11 orders ready nodes by topological depth (shallowest first), and its main thread
moves every node to the thread pool's FIFO the moment it is ready, so a node waits behind all
nodes that became ready before it, whatever their priority. At 1M customers the recommender chain
(events -> interactions -> ml_recommender_evaluation -> ALS -> recommendations) waited about 80 s
that way behind shallow tests and small models. Here (list scheduling):

* a node's priority is the longest path, weighted by expected cost, from it to the end of the
  graph (its "bottom level"): the chain's nodes come first;
* a node is handed to the pool only when a thread is free to run it, so the choice is made among
  everything ready at that moment and a chain node never queues behind earlier-ready tests.

Costs: the execution times of a previous run's ``run_results.json`` in the target path (a shop's
second build schedules by its real costs), or with ``ECOM_GROWTH_CRITICAL_PATH_FIRST=1`` and no
such times static weights by kind (a Python model costs more than a table, more than a view or a
test). Off by default: on 2 cores it did not pay at 1M customers (``mode``).

Installed by the dbt-duckdb plugin (``ecom_growth.dbt_plugin``), which dbt-duckdb loads when the
first connection opens: in ``before_run``, after dbt built the queue and before any thread takes
a node. The plugin wraps ``GraphRunnableTask.execute_nodes`` (called right after ``before_run``,
before the thread pool exists) so the task's own queue is re-scored in place, under its locks,
and its ``get`` waits for a free thread. Scheduling never changes what a node computes, only when
it starts. Anything unexpected in dbt's internals: one warning and dbt's own order. On:
``ECOM_GROWTH_CRITICAL_PATH_FIRST=timed`` (a previous run's times only) or ``=1``.
"""

from __future__ import annotations

import heapq
import json
import math
import os
import statistics
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx
from dbt.adapters.events.logging import AdapterLogger

log = AdapterLogger("ecom_growth")

SWITCH_ENV = "ECOM_GROWTH_CRITICAL_PATH_FIRST"

# Static cost per kind, relative (at 1M customers: Python models ~10-170 s, tables ~1-70 s, tests
# and views well under a second). The order matters more than the ratios: simulating the 1M build
# (2 threads, that run's node times) gave 463-464 s for 100/10/1, 20/1/0.1 and 10/1/1, and 463 s
# with the measured times as weights.
STATIC_WEIGHTS = {"python_model": 100.0, "table": 10.0, "light": 1.0}

# Commands whose run_results.json holds real execution times (compile and docs write compile times).
_TIMED_COMMANDS = {"build", "run", "test", "seed", "snapshot", "retry"}
_RAN_STATUSES = {"success", "pass", "warn", "fail"}  # skipped or errored nodes did not run to the end


_ALWAYS_VALUES = {"1", "true", "yes", "on", "always"}


def mode(environ: Mapping[str, str] = os.environ) -> str:
    """'off' (dbt's order, the default), 'timed' (only with a previous run's execution times) or
    'always' (static weights when there are no previous times). Off by default because at 1M
    customers on 2 cores it did not pay: full builds of 651 s (static weights), 564 and 634 s (a
    previous run's times) against 603 s in dbt's order, same code and data. The chain's Python
    models are multi-threaded (implicit's ALS, OpenMP): started early they share the 2 cores with
    everything else instead of having them alone at the end. Worth trying with more cores."""
    value = environ.get(SWITCH_ENV, "").strip().lower()
    if value in _ALWAYS_VALUES:
        return "always"
    return "timed" if value == "timed" else "off"


def node_kind(node: Any) -> str:
    """'python_model', 'table' (a SQL model that writes data, a snapshot) or 'light' (a view, an
    ephemeral model, a test, a seed, anything else)."""
    resource_type = getattr(node, "resource_type", None)
    if resource_type == "model":
        if getattr(node, "language", None) == "python":
            return "python_model"
        materialized = getattr(getattr(node, "config", None), "materialized", None)
        return "light" if materialized in ("view", "ephemeral") else "table"
    return "table" if resource_type == "snapshot" else "light"


def measured_times(run_results: Path) -> dict[str, float]:
    """unique_id -> execution seconds of the nodes that ran in a previous build, run or test.
    Empty when the file is missing, unreadable, not a run's results, or garbled."""
    try:
        document = json.loads(run_results.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or not isinstance(document.get("results"), list):
        return {}
    args = document.get("args")
    if not isinstance(args, dict) or args.get("which") not in _TIMED_COMMANDS:
        return {}
    times = {}
    for result in document["results"]:
        if not isinstance(result, dict) or result.get("status") not in _RAN_STATUSES:
            continue
        unique_id, seconds = result.get("unique_id"), result.get("execution_time")
        if (isinstance(unique_id, str) and isinstance(seconds, int | float) and not isinstance(seconds, bool)
                and math.isfinite(seconds) and seconds >= 0):
            times[unique_id] = float(seconds)
    return times


def node_weights(kinds: Mapping[str, str], measured: Mapping[str, float]) -> dict[str, float]:
    """Expected cost of each node: its measured time; a node the previous run did not time (new,
    or not selected then) gets the median measured time of its kind; a kind with none measured
    its static weight."""
    by_kind: dict[str, list[float]] = {}
    for node_id, kind in kinds.items():
        if node_id in measured:
            by_kind.setdefault(kind, []).append(measured[node_id])
    fallback = {kind: statistics.median(times) for kind, times in by_kind.items()}
    return {node_id: measured.get(node_id, fallback.get(kind, STATIC_WEIGHTS[kind]))
            for node_id, kind in kinds.items()}


def critical_path_scores(graph: nx.DiGraph, weights: Mapping[str, float]) -> dict[str, float]:
    """GraphQueue score per node (lower runs first): minus the node's bottom level, the heaviest
    path from it through its descendants, its own weight included. Equal scores fall back to the
    node id (the queue's tuples), so the order is deterministic."""
    bottom: dict[str, float] = {}
    for node_id in reversed(list(nx.topological_sort(graph))):
        below = max((bottom[child] for child in graph.successors(node_id)), default=0.0)
        bottom[node_id] = weights[node_id] + below
    return {node_id: -level for node_id, level in bottom.items()}


def rescore_queue(queue: Any, scores: Mapping[str, float]) -> None:
    """Give a live dbt GraphQueue new scores: the ones nodes get when they become ready
    (``_scores``) and those of the nodes already waiting in its priority queue (re-keyed in
    place, so the queue's task counts are untouched). Raises (and changes nothing) when the
    queue is not the shape this was written against (dbt-core 1.11)."""
    inner = queue.inner
    with queue.lock, inner.mutex:
        if not isinstance(queue._scores, dict) or not isinstance(inner.queue, list):
            raise TypeError("GraphQueue._scores or its PriorityQueue's heap is not what dbt-core 1.11 has")
        missing = [node_id for node_id in queue.graph if node_id not in scores]
        if missing:
            raise KeyError(f"no score for {len(missing)} queued node(s), e.g. {missing[0]}")
        waiting = [entry[1] for entry in inner.queue]
        queue._scores = dict(scores)
        inner.queue[:] = [(scores[node_id], node_id) for node_id in waiting]
        heapq.heapify(inner.queue)


def get_when_a_thread_is_free(queue: Any, threads: int) -> Callable[..., Any]:
    """A ``get`` for ``queue`` (dbt's main thread calls it, then submits the node to the thread
    pool) that first waits until fewer than ``threads`` nodes are in progress and one is ready,
    so the queue picks the best node when a thread can start it. It waits only while a node is in
    progress: ``mark_done`` of that node (which notifies ``some_task_done``) changes the answer.
    Raises when the queue is not the shape this was written against (dbt-core 1.11)."""
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"thread count {threads!r}")
    condition, in_progress, inner, dbt_get = queue.some_task_done, queue.in_progress, queue.inner, queue.get
    if not isinstance(in_progress, set) or not callable(getattr(condition, "wait", None)):
        raise TypeError("GraphQueue.in_progress or some_task_done is not what dbt-core 1.11 has")

    def get(block: bool = True, timeout: float | None = None) -> Any:
        if block and timeout is None:
            with condition:
                while queue.in_progress and (len(queue.in_progress) >= threads or inner.empty()):
                    condition.wait(timeout=1.0)  # the timeout only bounds a missed notification
        return dbt_get(block=block, timeout=timeout)

    return get


def schedule_critical_path_first(task: Any, environ: Mapping[str, str] = os.environ) -> None:
    """Re-score ``task.job_queue`` critical-path-first and make it hand out a node only when one of
    ``task.config.threads`` is free, before its nodes run. Never raises: when dbt's internals are
    not what this expects, one warning and dbt's own order."""
    chosen = mode(environ)
    if chosen == "off":
        log.info(f"critical-path-first scheduling off: dbt's depth order ({SWITCH_ENV}=timed or 1 turns it on)")
        return
    try:
        queue = task.job_queue
        manifest = queue.manifest
        kinds = {node_id: node_kind(manifest.expect(node_id)) for node_id in queue.graph}
        run_results = Path(task.result_path())
        measured = measured_times(run_results)
        if chosen == "timed" and not any(node_id in measured for node_id in kinds):
            log.info(f"critical-path-first scheduling waits for a previous run's times ({run_results}): "
                     f"dbt's depth order; {SWITCH_ENV}=1 uses static weights")
            return
        weights = node_weights(kinds, measured)
        get = get_when_a_thread_is_free(queue, task.config.threads)
        rescore_queue(queue, critical_path_scores(queue.graph, weights))
        queue.get = get  # shadows GraphQueue.get on this instance only
    except Exception as error:  # never fail the build over its order
        log.warning(f"critical-path-first scheduling not applied, dbt's own order is used ({type(error).__name__}: "
                    f"{error})")
        return
    timed = sum(node_id in measured for node_id in kinds)
    source = f"{timed} timed by the previous {run_results}" if timed else "static weights (no previous run's times)"
    log.info(f"critical-path-first scheduling on {len(kinds)} nodes, one per free thread: {source} ({SWITCH_ENV})")


_MARK = "_ecom_growth_critical_path_first"


def install(task_class: Any = None, prepare: Callable[[Any], None] = schedule_critical_path_first) -> bool:
    """Wrap ``task_class.execute_nodes`` (dbt's GraphRunnableTask) so ``prepare(task)`` runs first.
    Idempotent (dbt-duckdb may create its environment, and so the plugin, more than once). False,
    with one warning, when dbt has no such method."""
    try:
        if task_class is None:
            from dbt.task.runnable import GraphRunnableTask as task_class
        original = task_class.execute_nodes
    except (ImportError, AttributeError) as error:
        log.warning(f"critical-path-first scheduling not installed, dbt's own order is used ({error})")
        return False
    if getattr(original, _MARK, False):
        return True

    def execute_nodes(self, *args, **kwargs):
        try:
            prepare(self)
        except Exception as error:  # the build runs either way
            log.warning(f"critical-path-first scheduling failed, dbt's own order is used ({error})")
        return original(self, *args, **kwargs)

    setattr(execute_nodes, _MARK, True)
    execute_nodes.__wrapped__ = original
    task_class.execute_nodes = execute_nodes
    return True
