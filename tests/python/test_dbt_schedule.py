"""ecom_growth.dbt_schedule: critical-path-first priorities for dbt's GraphQueue, weights from a
previous run's run_results.json, re-scoring a real GraphQueue, handing out a node only when a
thread is free, and the safe no-op when dbt's internals are not what it expects."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import networkx as nx
import pytest
from dbt.graph.queue import GraphQueue

from ecom_growth import dbt_schedule
from ecom_growth.dbt_schedule import (
    STATIC_WEIGHTS,
    critical_path_scores,
    get_when_a_thread_is_free,
    install,
    measured_times,
    mode,
    node_kind,
    node_weights,
    rescore_queue,
    schedule_critical_path_first,
)

STATIC = {"ECOM_GROWTH_CRITICAL_PATH_FIRST": "1"}  # static weights when there are no previous times
TIMED = {"ECOM_GROWTH_CRITICAL_PATH_FIRST": "timed"}  # only with a previous run's times


def _node(resource_type: str, language: str = "sql", materialized: str = "table") -> SimpleNamespace:
    return SimpleNamespace(resource_type=resource_type, language=language,
                           config=SimpleNamespace(materialized=materialized))


class _Manifest:
    def __init__(self, nodes: dict[str, SimpleNamespace]) -> None:
        self.nodes = nodes
        for unique_id, node in nodes.items():
            node.unique_id = unique_id

    def expect(self, unique_id: str) -> SimpleNamespace:
        return self.nodes[unique_id]


def _chain_and_tests(n_tests: int = 6) -> tuple[nx.DiGraph, _Manifest]:
    """A root model feeding many tests and, through a view, a chain of 3 tables: the shape of the
    1M build's recommender chain. dbt's depth order runs every test (depth 1) before the chain's
    head (depth 2)."""
    graph = nx.DiGraph()
    nodes = {"model.p.root": _node("model"), "model.p.view": _node("model", materialized="view")}
    chain = ["model.p.z1", "model.p.z2", "model.p.z3"]
    for parent, child in zip(["model.p.root", "model.p.view", *chain[:-1]], ["model.p.view", *chain]):
        graph.add_edge(parent, child)
    for model_id in chain:
        nodes[model_id] = _node("model")
    for i in range(n_tests):
        test_id = f"test.p.a_test_{i}"
        graph.add_edge("model.p.root", test_id)
        nodes[test_id] = _node("test")
    return graph, _Manifest(nodes)


def _drain(queue: GraphQueue) -> list[str]:
    """Run the queue one node at a time (a single thread): the order dbt would start them in."""
    order = []
    while not queue.empty():
        order.append(queue.get(block=False).unique_id)
        queue.mark_done(order[-1])
    return order


def _kinds(graph: nx.DiGraph, manifest: _Manifest) -> dict[str, str]:
    return {node_id: node_kind(manifest.expect(node_id)) for node_id in graph}


# --- kinds and weights ------------------------------------------------------------------------


def test_node_kinds() -> None:
    assert node_kind(_node("model", language="python")) == "python_model"
    assert node_kind(_node("model")) == "table"
    assert node_kind(_node("model", materialized="incremental")) == "table"
    assert node_kind(_node("model", materialized="view")) == "light"
    assert node_kind(_node("model", materialized="ephemeral")) == "light"
    assert node_kind(_node("snapshot")) == "table"
    assert node_kind(_node("test")) == "light"
    assert node_kind(SimpleNamespace()) == "light"  # no attributes at all


def _write_run_results(path: Path, results: list, which: str = "build") -> Path:
    path.write_text(json.dumps({"metadata": {}, "args": {"which": which}, "elapsed_time": 1.0, "results": results}))
    return path


def test_measured_times_keep_nodes_that_ran(tmp_path: Path) -> None:
    path = _write_run_results(tmp_path / "run_results.json", [
        {"unique_id": "model.p.a", "status": "success", "execution_time": 12.5},
        {"unique_id": "test.p.t", "status": "fail", "execution_time": 0.25},  # ran, found rows
        {"unique_id": "model.p.skipped", "status": "skipped", "execution_time": 0},
        {"unique_id": "model.p.broken", "status": "error", "execution_time": 0.1},
        {"unique_id": "model.p.nan", "status": "success", "execution_time": float("nan")},
        {"unique_id": "model.p.negative", "status": "success", "execution_time": -1},
        {"unique_id": "model.p.text", "status": "success", "execution_time": "3"},
        {"status": "success", "execution_time": 1.0},
        "not a result",
    ])
    assert measured_times(path) == {"model.p.a": 12.5, "test.p.t": 0.25}


@pytest.mark.parametrize("content", [None, "", "{not json", "[]", '{"results": {}}', '{"results": []}',
                                     '{"args": {"which": "build"}, "results": "x"}'])
def test_missing_or_garbled_run_results_give_no_times(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "run_results.json"
    if content is not None:
        path.write_text(content)
    assert measured_times(path) == {}


def test_compile_run_results_are_not_execution_times(tmp_path: Path) -> None:
    results = [{"unique_id": "model.p.a", "status": "success", "execution_time": 0.01}]
    assert measured_times(_write_run_results(tmp_path / "c.json", results, which="compile")) == {}
    assert measured_times(_write_run_results(tmp_path / "r.json", results, which="run")) == {"model.p.a": 0.01}


def test_weights_are_static_without_times() -> None:
    kinds = {"m": "table", "py": "python_model", "t": "light"}
    assert node_weights(kinds, {}) == {"m": STATIC_WEIGHTS["table"], "py": STATIC_WEIGHTS["python_model"],
                                       "t": STATIC_WEIGHTS["light"]}
    assert STATIC_WEIGHTS["python_model"] > STATIC_WEIGHTS["table"] > STATIC_WEIGHTS["light"]


def test_weights_use_measured_times_and_the_median_of_a_kind_for_the_rest() -> None:
    kinds = {"m1": "table", "m2": "table", "m3": "table", "new_model": "table", "py": "python_model",
             "t": "light"}
    measured = {"m1": 1.0, "m2": 5.0, "m3": 30.0, "t": 0.2, "gone": 99.0}
    assert node_weights(kinds, measured) == {"m1": 1.0, "m2": 5.0, "m3": 30.0, "new_model": 5.0,
                                             "py": STATIC_WEIGHTS["python_model"], "t": 0.2}


# --- priorities -------------------------------------------------------------------------------


def test_a_long_chain_beats_many_shallow_tests() -> None:
    graph, manifest = _chain_and_tests()
    scores = critical_path_scores(graph, node_weights(_kinds(graph, manifest), {}))
    tests = [n for n in graph if n.startswith("test.")]
    assert all(scores["model.p.view"] < scores["model.p.z1"] < scores[t] for t in tests)
    dbt_scores = GraphQueue._get_scores(GraphQueue, graph)  # depth: the tests first
    assert all(dbt_scores[t] < dbt_scores["model.p.z1"] for t in tests)


def test_scores_are_the_heaviest_path_to_a_sink() -> None:
    graph = nx.DiGraph([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    graph.add_node("lone")
    weights = {"a": 1.0, "b": 10.0, "c": 2.0, "d": 3.0, "lone": 4.0}
    assert critical_path_scores(graph, weights) == {"a": -14.0, "b": -13.0, "c": -5.0, "d": -3.0, "lone": -4.0}


def test_measured_times_can_reverse_the_static_order() -> None:
    """Static weights favour the Python model; the previous run says the table is the long pole."""
    graph = nx.DiGraph()
    graph.add_nodes_from(["model.p.table", "model.p.py"])
    kinds = {"model.p.table": "table", "model.p.py": "python_model"}
    static = critical_path_scores(graph, node_weights(kinds, {}))
    timed = critical_path_scores(graph, node_weights(kinds, {"model.p.table": 60.0, "model.p.py": 2.0}))
    assert static["model.p.py"] < static["model.p.table"]
    assert timed["model.p.table"] < timed["model.p.py"]


def test_ties_are_deterministic() -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(["model.p.b", "model.p.c", "model.p.a"])
    orders = []
    for insertion in (["model.p.b", "model.p.c", "model.p.a"], ["model.p.a", "model.p.c", "model.p.b"]):
        shuffled = nx.DiGraph()
        shuffled.add_nodes_from(insertion)
        manifest = _Manifest({n: _node("model") for n in insertion})
        queue = GraphQueue(shuffled, manifest, set(insertion))
        rescore_queue(queue, critical_path_scores(shuffled, dict.fromkeys(insertion, 1.0)))
        orders.append(_drain(queue))
    assert orders == [["model.p.a", "model.p.b", "model.p.c"]] * 2


# --- a real GraphQueue ------------------------------------------------------------------------


def test_rescoring_a_real_graph_queue_starts_the_chain_first() -> None:
    graph, manifest = _chain_and_tests()
    dbt_order = _drain(GraphQueue(graph.copy(), manifest, set(graph)))
    assert dbt_order.index("model.p.z1") > dbt_order.index("test.p.a_test_5")  # dbt: tests first

    queue = GraphQueue(graph.copy(), manifest, set(graph))
    queue.mark_done(queue.get(block=False).unique_id)  # re-scoring also works on a queue mid-run
    weights = node_weights(_kinds(graph, manifest), {})
    rescore_queue(queue, critical_path_scores(queue.graph, weights))
    order = _drain(queue)
    assert order[:4] == ["model.p.view", "model.p.z1", "model.p.z2", "model.p.z3"]
    assert sorted(order) == sorted(n for n in graph if n != "model.p.root")
    assert queue.inner.unfinished_tasks == 0  # join() would return: no task counted twice


def _task(graph: nx.DiGraph, manifest: _Manifest, run_results: Path, threads: int = 2) -> SimpleNamespace:
    return SimpleNamespace(job_queue=GraphQueue(graph, manifest, set(graph)), result_path=lambda: str(run_results),
                           config=SimpleNamespace(threads=threads))


class _Log:
    def __init__(self) -> None:
        self.info: list[str] = []
        self.warning: list[str] = []


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> _Log:
    record = _Log()
    monkeypatch.setattr(dbt_schedule, "log", SimpleNamespace(info=record.info.append, warning=record.warning.append))
    return record


def test_schedule_uses_the_previous_runs_times(tmp_path: Path, logged: _Log) -> None:
    """The previous run timed the tests as slow and the chain as instant: the tests go first."""
    graph, manifest = _chain_and_tests(n_tests=2)
    path = _write_run_results(tmp_path / "run_results.json", [
        {"unique_id": n, "status": "pass" if n.startswith("test.") else "success",
         "execution_time": 50.0 if n.startswith("test.") else 0.01} for n in graph])
    task = _task(graph, manifest, path)
    task.job_queue.mark_done(task.job_queue.get(block=False).unique_id)
    schedule_critical_path_first(task, environ=TIMED)
    assert _drain(task.job_queue)[:2] == ["test.p.a_test_0", "test.p.a_test_1"]
    assert logged.warning == [] and len(logged.info) == 1 and "6 timed by the previous" in logged.info[0]


def test_schedule_with_static_weights(tmp_path: Path, logged: _Log) -> None:
    graph, manifest = _chain_and_tests()
    task = _task(graph, manifest, tmp_path / "absent.json")
    schedule_critical_path_first(task, environ=STATIC)
    assert _drain(task.job_queue)[:5] == ["model.p.root", "model.p.view", "model.p.z1", "model.p.z2", "model.p.z3"]
    assert logged.warning == [] and len(logged.info) == 1 and "static weights" in logged.info[0]


def test_without_a_previous_runs_times_dbts_order_is_kept(tmp_path: Path, logged: _Log) -> None:
    graph, manifest = _chain_and_tests()
    task = _task(graph.copy(), manifest, tmp_path / "absent.json")
    schedule_critical_path_first(task, environ=TIMED)
    assert _drain(task.job_queue) == _drain(GraphQueue(graph.copy(), manifest, set(graph)))
    assert "get" not in vars(task.job_queue)  # dbt's own get: nodes go to the pool as they are ready
    assert logged.warning == [] and len(logged.info) == 1 and "waits for a previous run's times" in logged.info[0]


@pytest.mark.parametrize(("value", "expected"), [("", "off"), ("timed", "timed"), (" Timed ", "timed"), ("0", "off"),
                                                 ("no", "off"), ("1", "always"), ("true", "always"), ("x", "off")])
def test_mode_from_the_switch(value: str, expected: str) -> None:
    assert mode({"ECOM_GROWTH_CRITICAL_PATH_FIRST": value}) == expected
    assert mode({}) == "off"  # off by default: it did not pay at 1M on 2 cores


def test_off_by_default(tmp_path: Path, logged: _Log) -> None:
    graph, manifest = _chain_and_tests()
    path = _write_run_results(tmp_path / "run_results.json", [
        {"unique_id": n, "status": "success", "execution_time": 1.0} for n in graph])
    task = _task(graph.copy(), manifest, path)
    schedule_critical_path_first(task, environ={})
    assert _drain(task.job_queue) == _drain(GraphQueue(graph.copy(), manifest, set(graph)))
    assert logged.warning == [] and len(logged.info) == 1 and "off" in logged.info[0]


def test_switched_off_leaves_dbts_order(tmp_path: Path, logged: _Log) -> None:
    graph, manifest = _chain_and_tests()
    task = _task(graph.copy(), manifest, tmp_path / "absent.json")
    schedule_critical_path_first(task, environ={"ECOM_GROWTH_CRITICAL_PATH_FIRST": "0"})
    assert _drain(task.job_queue) == _drain(GraphQueue(graph.copy(), manifest, set(graph)))
    assert logged.warning == [] and len(logged.info) == 1 and "off" in logged.info[0]


# --- one node per free thread ----------------------------------------------------------------


def _get_in_a_thread(queue: GraphQueue) -> tuple[threading.Thread, list[str]]:
    got: list[str] = []
    thread = threading.Thread(target=lambda: got.append(queue.get().unique_id), daemon=True)
    thread.start()
    return thread, got


def _tests_and_a_chain() -> tuple[nx.DiGraph, _Manifest]:
    """Two tests ready at the start; a table whose Python child becomes ready only when it is done."""
    graph = nx.DiGraph([("model.p.a", "model.p.z")])
    graph.add_nodes_from(["test.p.t1", "test.p.t2"])
    return graph, _Manifest({"model.p.a": _node("model"), "model.p.z": _node("model", language="python"),
                             "test.p.t1": _node("test"), "test.p.t2": _node("test")})


def test_a_node_ready_later_beats_nodes_ready_earlier_while_the_threads_are_busy(tmp_path: Path, logged: _Log) -> None:
    graph, manifest = _tests_and_a_chain()
    task = _task(graph, manifest, tmp_path / "absent.json", threads=1)
    schedule_critical_path_first(task, environ=STATIC)
    queue = task.job_queue
    assert queue.get().unique_id == "model.p.a"
    thread, got = _get_in_a_thread(queue)  # dbt's main thread asking for the next node
    time.sleep(0.3)
    assert got == []  # the only thread is busy: nothing is handed out yet
    queue.mark_done("model.p.a")
    thread.join(timeout=5)
    assert got == ["model.p.z"]  # not a test that was ready all along


def test_dbts_get_hands_out_at_once(tmp_path: Path) -> None:
    """What the wait changes: dbt's own get gives the ready test while the thread is still busy."""
    graph, manifest = _tests_and_a_chain()
    queue = GraphQueue(graph, manifest, set(graph))
    rescore_queue(queue, critical_path_scores(graph, node_weights(_kinds(graph, manifest), {})))
    assert queue.get().unique_id == "model.p.a"
    assert queue.get(block=False).unique_id == "test.p.t1"


def test_get_does_not_wait_while_a_thread_is_free() -> None:
    graph, manifest = _tests_and_a_chain()
    queue = GraphQueue(graph, manifest, set(graph))
    queue.get = get_when_a_thread_is_free(queue, threads=2)
    assert queue.get().unique_id == "model.p.a"
    thread, got = _get_in_a_thread(queue)
    thread.join(timeout=5)
    assert got == ["test.p.t1"]
    with pytest.raises(ValueError):
        get_when_a_thread_is_free(queue, threads=0)


# --- when dbt's internals differ ---------------------------------------------------------------


def _broken_by(change: str, queue: GraphQueue) -> None:
    if change == "no _scores":
        del queue._scores
    elif change == "no lock":
        del queue.lock
    elif change == "heap is not a list":
        queue.inner = SimpleNamespace(mutex=queue.inner.mutex, queue=tuple(queue.inner.queue))
    elif change == "manifest cannot find a node":
        queue.manifest = _Manifest({})
    elif change == "no some_task_done":
        del queue.some_task_done


@pytest.mark.parametrize("change", ["no _scores", "no lock", "heap is not a list", "manifest cannot find a node",
                                    "no some_task_done", "threads is not a count", "no job_queue"])
def test_unexpected_internals_leave_dbts_order_with_one_warning(tmp_path: Path, logged: _Log, change: str) -> None:
    graph, manifest = _chain_and_tests()
    task = _task(graph, manifest, tmp_path / "absent.json", threads="2" if change == "threads is not a count" else 2)
    if change == "no job_queue":
        del task.job_queue
    else:
        queue = task.job_queue
        _broken_by(change, queue)
        before = (getattr(queue, "_scores", None), list(queue.inner.queue))
    schedule_critical_path_first(task, environ=STATIC)  # must not raise
    assert len(logged.warning) == 1 and "dbt's own order" in logged.warning[0] and logged.info == []
    if change != "no job_queue":
        assert (getattr(queue, "_scores", None), list(queue.inner.queue)) == before
        assert "get" not in vars(queue)  # dbt's own get


def test_a_missing_score_changes_nothing() -> None:
    graph, manifest = _chain_and_tests()
    queue = GraphQueue(graph, manifest, set(graph))
    scores_before, heap_before = dict(queue._scores), list(queue.inner.queue)
    with pytest.raises(KeyError):
        rescore_queue(queue, {"model.p.root": -1.0})
    assert queue._scores == scores_before and queue.inner.queue == heap_before


# --- installing the hook -----------------------------------------------------------------------


def test_install_runs_prepare_before_execute_nodes_once(logged: _Log) -> None:
    calls = []

    class Task:
        def execute_nodes(self, *args):
            calls.append(("execute", args))
            return "results"

    def prepare(task):
        calls.append(("prepare", task))

    assert install(Task, prepare) and install(Task, prepare)  # the second install does not wrap again
    task = Task()
    assert task.execute_nodes(1) == "results"
    assert calls == [("prepare", task), ("execute", (1,))]


def test_install_never_lets_prepare_fail_the_build(logged: _Log) -> None:
    class Task:
        def execute_nodes(self):
            return "results"

    def prepare(task):
        raise RuntimeError("boom")

    install(Task, prepare)
    assert Task().execute_nodes() == "results" and len(logged.warning) == 1


def test_install_without_execute_nodes_is_a_warning(logged: _Log) -> None:
    class Task:
        pass

    assert install(Task) is False and len(logged.warning) == 1
    assert not hasattr(Task, "execute_nodes")


def test_install_targets_dbts_runnable_task() -> None:
    """The dbt-core this project pins still has the method the hook wraps (and the plugin installed it
    on import of dbt's task when a build ran in this process, or installs it now)."""
    from dbt.task.runnable import GraphRunnableTask

    assert install()
    assert getattr(GraphRunnableTask.execute_nodes, "_ecom_growth_critical_path_first", False)
