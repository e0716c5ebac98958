"""`RedisCheckpointSaver` on the shared plain Redis, tested as LangGraph tests its own savers.

Each test works under its own key prefix (the `redis_prefix` fixture deletes it after).
"""

from __future__ import annotations

import asyncio
import operator
import uuid
from typing import Annotated, Any, TypedDict

import pytest
import redis.asyncio as aioredis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ERROR,
    INTERRUPT,
    Checkpoint,
    create_checkpoint,
    empty_checkpoint,
)
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from graph.checkpointer import RedisCheckpointSaver
from tests.db_fixtures import redis_url

TTL_S = 120


@pytest.fixture
def saver(redis_client: aioredis.Redis, redis_prefix: str) -> RedisCheckpointSaver:
    return RedisCheckpointSaver(redis_client, prefix=redis_prefix, ttl_s=TTL_S)


def config(thread_id: str, checkpoint_ns: str = "", checkpoint_id: str | None = None,
           **extra: Any) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": {**configurable, **extra}}


def with_values(checkpoint: Checkpoint, **values: Any) -> Checkpoint:
    return {**checkpoint, "channel_values": values,
            "channel_versions": {name: f"{1:032}.0" for name in values}}


async def put_chain(saver: RedisCheckpointSaver, thread_id: str, count: int,
                    checkpoint_ns: str = "") -> list[RunnableConfig]:
    """`count` checkpoints of one thread, each the parent of the next; their configs."""
    configs, parent = [], config(thread_id, checkpoint_ns)
    previous = empty_checkpoint()
    for step in range(count):
        checkpoint = create_checkpoint(previous, None, step)
        parent = await saver.aput(parent, checkpoint, {"source": "loop", "step": step}, {})
        configs.append(parent)
        previous = checkpoint
    return configs


async def test_a_stored_checkpoint_comes_back_with_its_values_and_metadata(
    saver: RedisCheckpointSaver,
) -> None:
    checkpoint = with_values(empty_checkpoint(), facts={"budget_usd": 50000.0}, agent="qualifier")
    stored = await saver.aput(
        {**config("CA1", __private="hidden", run_label="turn-3"),
         "metadata": {"run_id": "run-1"}},
        checkpoint, {"source": "loop", "step": 1, "writes": {"qualifier": "x"}},
        checkpoint["channel_versions"],
    )

    assert stored == config("CA1", checkpoint_id=checkpoint["id"])
    found = await saver.aget_tuple(config("CA1"))
    assert found is not None
    assert found.config == stored
    assert found.checkpoint["channel_values"] == {"facts": {"budget_usd": 50000.0},
                                                  "agent": "qualifier"}
    assert found.checkpoint["id"] == checkpoint["id"]
    # config metadata and plain configurable values join the metadata; private keys do not
    assert found.metadata == {"source": "loop", "step": 1, "writes": {"qualifier": "x"},
                              "run_id": "run-1", "run_label": "turn-3"}
    assert found.parent_config is None
    assert found.pending_writes == []


async def test_the_latest_checkpoint_is_returned_unless_an_id_is_asked_for(
    saver: RedisCheckpointSaver,
) -> None:
    first, second, third = await put_chain(saver, "CA2", 3)

    latest = await saver.aget_tuple(config("CA2"))
    assert latest is not None and latest.config == third
    assert latest.parent_config == second
    older = await saver.aget_tuple(second)
    assert older is not None and older.config == second and older.parent_config == first
    assert await saver.aget_tuple(config("CA2", checkpoint_id="no-such-id")) is None
    assert await saver.aget_tuple(config("nobody")) is None


async def test_unchanged_channels_are_read_from_the_version_that_wrote_them(
    saver: RedisCheckpointSaver,
) -> None:
    first = with_values(empty_checkpoint(), facts="v1", agent="greeter")
    parent = await saver.aput(config("CA3"), first, {}, first["channel_versions"])
    second = create_checkpoint(first, None, 1)
    second["channel_values"] = {"facts": "v1", "agent": "qualifier"}
    second["channel_versions"] = {**first["channel_versions"], "agent": f"{2:032}.5"}
    await saver.aput(parent, second, {}, {"agent": second["channel_versions"]["agent"]})

    latest = await saver.aget_tuple(config("CA3"))
    assert latest is not None
    assert latest.checkpoint["channel_values"] == {"facts": "v1", "agent": "qualifier"}
    earlier = await saver.aget_tuple(parent)
    assert earlier is not None
    assert earlier.checkpoint["channel_values"] == {"facts": "v1", "agent": "greeter"}


async def test_list_filters_on_metadata_thread_and_namespace(
    saver: RedisCheckpointSaver,
) -> None:
    one = create_checkpoint(empty_checkpoint(), None, 1)
    two = create_checkpoint(one, None, 2)
    inner = empty_checkpoint()
    metadata_one = {"source": "input", "step": 2, "writes": {}, "score": 1}
    metadata_two = {"source": "loop", "step": 1, "writes": {"foo": "bar"}, "score": None}
    await saver.aput(config("thread-1"), one, metadata_one, {})
    await saver.aput(config("thread-2"), two, metadata_two, {})
    await saver.aput(config("thread-2", "inner"), inner, {}, {})

    async def found(cfg: RunnableConfig | None, **kwargs: Any) -> list[Any]:
        return [item async for item in saver.alist(cfg, **kwargs)]

    by_source = await found(None, filter={"source": "input"})
    assert [item.metadata for item in by_source] == [metadata_one]
    by_two_keys = await found(None, filter={"step": 1, "writes": {"foo": "bar"}})
    assert [item.metadata for item in by_two_keys] == [metadata_two]
    assert len(await found(None, filter={})) == 3
    assert await found(None, filter={"source": "update", "step": 1}) == []
    # a thread without a namespace lists every namespace it has
    namespaces = {item.config["configurable"]["checkpoint_ns"]
                  for item in await found({"configurable": {"thread_id": "thread-2"}})}
    assert namespaces == {"", "inner"}
    only_inner = await found(config("thread-2", "inner"))
    assert [item.checkpoint["id"] for item in only_inner] == [inner["id"]]
    assert len(await found(None, limit=2)) == 2


async def test_list_is_newest_first_and_honours_before_and_limit(
    saver: RedisCheckpointSaver,
) -> None:
    configs = await put_chain(saver, "CA4", 5)
    ids = [cfg["configurable"]["checkpoint_id"] for cfg in configs]

    listed = [item.config["configurable"]["checkpoint_id"]
              async for item in saver.alist(config("CA4"))]
    assert listed == ids[::-1]
    before = [item.config["configurable"]["checkpoint_id"]
              async for item in saver.alist(config("CA4"), before=configs[3], limit=2)]
    assert before == [ids[2], ids[1]]
    one = [item async for item in saver.alist(configs[1])]
    assert [item.config for item in one] == [configs[1]]
    assert [item async for item in saver.alist(config("CA4"), limit=0)] == []


async def test_pending_writes_are_returned_in_task_order_and_kept_once(
    saver: RedisCheckpointSaver,
) -> None:
    (stored,) = await put_chain(saver, "CA5", 1)
    await saver.aput_writes(stored, [("facts", {"need": "missed calls"}), ("agent", "x")],
                            task_id="task-b", task_path="~b")
    await saver.aput_writes(stored, [("agent", "qualifier")], task_id="task-a", task_path="~a")
    # a retried task writing again does not change what was written
    await saver.aput_writes(stored, [("facts", {"need": "changed"})], task_id="task-b",
                            task_path="~b")
    # a special write (an error) replaces the previous one of its kind
    await saver.aput_writes(stored, [(ERROR, "first failure")], task_id="task-c")
    await saver.aput_writes(stored, [(ERROR, "second failure")], task_id="task-c")

    found = await saver.aget_tuple(config("CA5"))
    assert found is not None
    assert found.pending_writes == [
        ("task-c", ERROR, "second failure"),
        ("task-a", "agent", "qualifier"),
        ("task-b", "facts", {"need": "missed calls"}),
        ("task-b", "agent", "x"),
    ]


async def test_every_key_expires_within_the_ttl(
    saver: RedisCheckpointSaver, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    (stored,) = await put_chain(saver, "CA6", 1)
    checkpoint = with_values(empty_checkpoint(), agent="greeter")
    await saver.aput(config("CA6", "inner"), checkpoint, {}, checkpoint["channel_versions"])
    await saver.aput_writes(stored, [("agent", "greeter")], task_id="t1")

    keys = [key async for key in redis_client.scan_iter(match=f"{redis_prefix}:*")]
    assert len(keys) >= 6
    for key in keys:
        assert 0 < await redis_client.ttl(key) <= TTL_S, key


async def test_deleting_a_thread_removes_all_of_it_and_nothing_else(
    saver: RedisCheckpointSaver, redis_client: aioredis.Redis, redis_prefix: str
) -> None:
    (kept,) = await put_chain(saver, "CA-keep", 1)
    (doomed,) = await put_chain(saver, "CA-gone", 1)
    await put_chain(saver, "CA-gone", 2, checkpoint_ns="inner")
    await saver.aput_writes(doomed, [("agent", "greeter")], task_id="t1")

    await saver.adelete_thread("CA-gone")

    assert await saver.aget_tuple(config("CA-gone")) is None
    assert await saver.aget_tuple(config("CA-gone", "inner")) is None
    assert [item async for item in saver.alist({"configurable": {"thread_id": "CA-gone"}})] == []
    assert (await saver.aget_tuple(config("CA-keep"))).config == kept  # type: ignore[union-attr]
    left = [key async for key in redis_client.scan_iter(match=f"{redis_prefix}:*")]
    assert left and all(b"CA-keep" in key for key in left)


async def test_thread_ids_with_separators_do_not_collide(saver: RedisCheckpointSaver) -> None:
    (plain,) = await put_chain(saver, "a", 1, checkpoint_ns="b:c")
    (tricky,) = await put_chain(saver, "a:b", 1, checkpoint_ns="c")
    (braced,) = await put_chain(saver, "{a}%3A", 1)

    assert (await saver.aget_tuple(config("a", "b:c"))).config == plain  # type: ignore[union-attr]
    assert (await saver.aget_tuple(config("a:b", "c"))).config == tricky  # type: ignore[union-attr]
    assert (await saver.aget_tuple(config("{a}%3A"))).config == braced  # type: ignore[union-attr]
    threads = {item.config["configurable"]["thread_id"] async for item in saver.alist(None)}
    assert threads == {"a", "a:b", "{a}%3A"}


async def test_sync_methods_work_from_another_thread_and_refuse_the_loop_thread(
    saver: RedisCheckpointSaver,
) -> None:
    (stored,) = await put_chain(saver, "CA7", 1)

    found = await asyncio.to_thread(saver.get_tuple, config("CA7"))
    assert found is not None and found.config == stored
    listed = await asyncio.to_thread(lambda: list(saver.list(config("CA7"))))
    assert [item.config for item in listed] == [stored]
    with pytest.raises(asyncio.InvalidStateError):
        saver.get_tuple(config("CA7"))


class Counter(TypedDict):
    total: Annotated[int, operator.add]
    answers: Annotated[list[str], operator.add]


def counting_graph() -> StateGraph:
    """Adds its input to a running total; asks a question (an interrupt) on the way."""

    def add(state: Counter) -> dict[str, Any]:
        return {"total": 1}

    def ask(state: Counter) -> dict[str, Any]:
        answer = interrupt({"question": "budget?", "total": state["total"]})
        return {"answers": [answer]}

    builder = StateGraph(Counter)
    builder.add_node("add", add)
    builder.add_node("ask", ask)
    builder.add_edge(START, "add")
    builder.add_edge("add", "ask")
    builder.add_edge("ask", END)
    return builder


async def test_a_graph_resumes_on_another_saver_instance_as_on_another_replica(
    redis_prefix: str,
) -> None:
    thread = {"configurable": {"thread_id": f"CA{uuid.uuid4().hex}"}}
    replica_a = aioredis.from_url(redis_url())
    replica_b = aioredis.from_url(redis_url())
    try:
        graph_a = counting_graph().compile(
            checkpointer=RedisCheckpointSaver(replica_a, prefix=redis_prefix, ttl_s=TTL_S))
        graph_b = counting_graph().compile(
            checkpointer=RedisCheckpointSaver(replica_b, prefix=redis_prefix, ttl_s=TTL_S))

        first = await graph_a.ainvoke({"total": 10, "answers": []}, thread)
        assert first["__interrupt__"][0].value == {"question": "budget?", "total": 11}
        paused = await graph_b.aget_state(thread)
        assert paused.next == ("ask",)
        assert any(write[1] == INTERRUPT for write in (
            await graph_b.checkpointer.aget_tuple(thread)).pending_writes)  # type: ignore[union-attr]

        resumed = await graph_b.ainvoke(Command(resume="fifty thousand"), thread)
        assert resumed == {"total": 11, "answers": ["fifty thousand"]}

        again = await graph_a.ainvoke({"total": 5, "answers": []}, thread)
        assert again["total"] == 17
        await graph_a.ainvoke(Command(resume="a year"), thread)
        final = await graph_b.aget_state(thread)
        assert final.values == {"total": 17, "answers": ["fifty thousand", "a year"]}
        history = [snapshot async for snapshot in graph_a.aget_state_history(thread)]
        assert len(history) > 4
        assert history[0].config == final.config
    finally:
        await replica_a.aclose()
        await replica_b.aclose()


def test_a_client_that_decodes_responses_is_refused() -> None:
    client = aioredis.from_url(redis_url(), decode_responses=True)
    with pytest.raises(ValueError, match="decode_responses"):
        RedisCheckpointSaver(client)
