"""`RedisCheckpointSaver`: LangGraph checkpoints in plain Redis, so any replica continues a call.

LangGraph's own Redis saver needs RediSearch and RedisJSON; managed Redis and our
machines have neither. This saver uses only strings, hashes, sets and sorted sets.
Every key expires `ttl_s` after the thread was last written (a call's checkpoints
outlive the call by that much, then vanish without a clean-up job).

Layout, for a thread T and checkpoint namespace N (parts percent-escaped; T is a
hash tag, so a thread's keys share one Redis Cluster slot and one MULTI):

    {prefix}:{T}:namespaces        set        the namespaces T has checkpoints in
    {prefix}:{T}:N:index           sorted set checkpoint ids, all score 0: lexicographic
                                              order is time order (ids are uuid6)
    {prefix}:{T}:N:checkpoints     hash       id -> checkpoint (without channel values),
                                              metadata, parent id
    {prefix}:{T}:N:blobs           hash       "channel\\0version" -> channel value
    {prefix}:{T}:N:writes:ID       hash       "task_id\\0idx" -> pending write

Channel values are stored once per version, as LangGraph's Postgres and in-memory
savers do, so a checkpoint costs only the channels that changed. Values go through
`self.serde` (`dumps_typed` / `loads_typed`), as the base class asks; by default a
strict serializer that revives only the types the graph's state declares.
"""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    SerializerProtocol,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

T = TypeVar("T")

_EMPTY = "empty"  # a channel that has a version but no value (as InMemorySaver marks it)
_LEN = struct.Struct(">I")
_LIST_BATCH = 100  # checkpoints loaded per round trip while listing


def _pack(*parts: bytes) -> bytes:
    """Length-prefixed parts: binary-safe, no base64 and no second serializer."""
    return b"".join(_LEN.pack(len(part)) + part for part in parts)


def _unpack(data: bytes) -> list[bytes]:
    parts, offset = [], 0
    while offset < len(data):
        (size,) = _LEN.unpack_from(data, offset)
        offset += _LEN.size
        parts.append(data[offset:offset + size])
        offset += size
    return parts


def _escape(part: str) -> str:
    """A key part that cannot be confused with the separators or the hash tag."""
    return (part.replace("%", "%25").replace(":", "%3A")
            .replace("{", "%7B").replace("}", "%7D"))


def _unescape(part: str) -> str:
    return (part.replace("%7D", "}").replace("%7B", "{")
            .replace("%3A", ":").replace("%25", "%"))


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisCheckpointSaver(BaseCheckpointSaver[str]):
    """A LangGraph checkpointer on plain Redis (no modules), every key with a TTL.

    `redis` must return bytes (`decode_responses=False`, the default): values are
    binary. The async methods are the real ones; the sync ones run them on the
    saver's event loop from another thread, as LangGraph's async Postgres saver does.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str = "switchboard:checkpoint",
        ttl_s: int = 3600,
        serde: SerializerProtocol | None = None,
    ) -> None:
        # Strict by default: only LangGraph's safe types and the types a compiled
        # graph's state schema declares (it adds them with `with_allowlist`) are
        # revived from Redis, never an arbitrary class named in a stored value.
        super().__init__(serde=serde or JsonPlusSerializer(allowed_msgpack_modules=None))
        if redis.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisCheckpointSaver needs a client with decode_responses=False")
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.loop: asyncio.AbstractEventLoop | None = None

    # --- keys -------------------------------------------------------------------------

    def _thread(self, thread_id: str) -> str:
        return f"{self.prefix}:{{{_escape(thread_id)}}}"

    def _namespaces_key(self, thread_id: str) -> str:
        return f"{self._thread(thread_id)}:namespaces"

    def _ns(self, thread_id: str, checkpoint_ns: str) -> str:
        return f"{self._thread(thread_id)}:{_escape(checkpoint_ns)}"

    def _index_key(self, thread_id: str, checkpoint_ns: str) -> str:
        return f"{self._ns(thread_id, checkpoint_ns)}:index"

    def _checkpoints_key(self, thread_id: str, checkpoint_ns: str) -> str:
        return f"{self._ns(thread_id, checkpoint_ns)}:checkpoints"

    def _blobs_key(self, thread_id: str, checkpoint_ns: str) -> str:
        return f"{self._ns(thread_id, checkpoint_ns)}:blobs"

    def _writes_key(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> str:
        return f"{self._ns(thread_id, checkpoint_ns)}:writes:{_escape(checkpoint_id)}"

    @staticmethod
    def _blob_field(channel: str, version: str | int | float) -> str:
        return f"{channel}\0{version}"

    # --- async interface --------------------------------------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint `config` names, or the thread's latest in its namespace."""
        self.loop = asyncio.get_running_loop()
        configurable = config["configurable"]
        thread_id: str = configurable["thread_id"]
        checkpoint_ns: str = configurable.get("checkpoint_ns", "")
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id is None:
            latest = await self.redis.zrevrangebylex(
                self._index_key(thread_id, checkpoint_ns), "+", "-", start=0, num=1
            )
            if not latest:
                return None
            checkpoint_id = _text(latest[0])
        record = await self.redis.hget(self._checkpoints_key(thread_id, checkpoint_ns),
                                       checkpoint_id)
        if record is None:
            return None
        return await self._load_tuple(thread_id, checkpoint_ns, checkpoint_id, record)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Checkpoints newest first, per thread and namespace, matching `filter` (metadata
        equality), older than `before`, at most `limit` in all."""
        self.loop = asyncio.get_running_loop()
        remaining = limit
        if remaining is not None and remaining <= 0:
            return
        configurable = config["configurable"] if config else {}
        wanted_ns: str | None = configurable.get("checkpoint_ns")
        wanted_id = get_checkpoint_id(config) if config else None
        before_id = get_checkpoint_id(before) if before else None
        threads = [configurable["thread_id"]] if config else await self._all_threads()
        for thread_id in threads:
            if wanted_ns is not None:
                namespaces = [wanted_ns]
            else:
                members = await self.redis.smembers(self._namespaces_key(thread_id))
                namespaces = sorted(_text(member) for member in members)
            for checkpoint_ns in namespaces:
                async for item in self._list_namespace(
                    thread_id, checkpoint_ns, wanted_id, before_id, filter, remaining
                ):
                    yield item
                    if remaining is not None:
                        remaining -= 1
                        if remaining <= 0:
                            return

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the channel values that changed; refresh the TTLs."""
        self.loop = asyncio.get_running_loop()
        configurable = config["configurable"]
        thread_id: str = configurable["thread_id"]
        checkpoint_ns: str = configurable.get("checkpoint_ns", "")
        parent_id: str = configurable.get("checkpoint_id") or ""
        stored = checkpoint.copy()
        values: dict[str, Any] = stored.pop("channel_values")  # type: ignore[misc]
        blobs = {
            self._blob_field(channel, version): _pack(
                *self._dump(values[channel]) if channel in values else (_EMPTY.encode(), b"")
            )
            for channel, version in new_versions.items()
        }
        record = _pack(
            *self._dump(stored),
            *self._dump(get_checkpoint_metadata(config, metadata)),
            parent_id.encode(),
        )
        keys = (
            self._namespaces_key(thread_id),
            self._index_key(thread_id, checkpoint_ns),
            self._checkpoints_key(thread_id, checkpoint_ns),
            self._blobs_key(thread_id, checkpoint_ns),
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(keys[0], checkpoint_ns)
            pipe.zadd(keys[1], {checkpoint["id"]: 0})
            pipe.hset(keys[2], checkpoint["id"], record)
            if blobs:
                pipe.hset(keys[3], mapping=blobs)
            # The newest checkpoint may still need old blobs; refreshing the whole
            # thread's TTL on every write keeps everything it references alive.
            for key in keys:
                pipe.expire(key, self.ttl_s)
            await pipe.execute()
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes against a checkpoint. A regular write already stored is
        kept (a retried task must not change history); special writes (errors,
        interrupts) replace the previous one."""
        self.loop = asyncio.get_running_loop()
        configurable = config["configurable"]
        key = self._writes_key(
            configurable["thread_id"], configurable.get("checkpoint_ns", ""),
            configurable["checkpoint_id"],
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            for idx, (channel, value) in enumerate(writes):
                slot = WRITES_IDX_MAP.get(channel, idx)
                field = f"{task_id}\0{slot}"
                record = _pack(task_id.encode(), channel.encode(), *self._dump(value),
                               task_path.encode())
                if slot >= 0:
                    pipe.hsetnx(key, field, record)
                else:
                    pipe.hset(key, field, record)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def adelete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint, blob and write of a thread, in all namespaces."""
        self.loop = asyncio.get_running_loop()
        namespaces_key = self._namespaces_key(thread_id)
        namespaces = [_text(ns) for ns in await self.redis.smembers(namespaces_key)]
        doomed = [namespaces_key]
        for checkpoint_ns in namespaces:
            index_key = self._index_key(thread_id, checkpoint_ns)
            ids = await self.redis.zrange(index_key, 0, -1)
            doomed += [self._writes_key(thread_id, checkpoint_ns, _text(cid)) for cid in ids]
            doomed += [index_key, self._checkpoints_key(thread_id, checkpoint_ns),
                       self._blobs_key(thread_id, checkpoint_ns)]
        for start in range(0, len(doomed), 500):
            await self.redis.unlink(*doomed[start:start + 500])

    # --- sync interface: the async one, run on the saver's loop -------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._run_sync(self.aget_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        async def collect() -> list[CheckpointTuple]:
            return [item async for item in self.alist(config, filter=filter, before=before,
                                                        limit=limit)]

        yield from self._run_sync(collect())

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._run_sync(self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._run_sync(self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._run_sync(self.adelete_thread(thread_id))

    def _run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop the Redis client lives on, from another thread.

        A redis.asyncio client belongs to one event loop; blocking that loop's own
        thread on it would deadlock, so that is refused."""
        loop = self.loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or not loop.is_running():
            coro.close()
            raise asyncio.InvalidStateError(
                "RedisCheckpointSaver's sync methods only work from another thread while "
                "its event loop runs; use the async methods (graph.ainvoke, saver.aget_tuple)"
            )
        return asyncio.run_coroutine_threadsafe(coro, loop).result()

    # --- versions ---------------------------------------------------------------------

    def get_next_version(self, current: str | None, channel: None) -> str:
        """Monotonic string versions, as LangGraph's in-memory and Postgres savers make."""
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"

    # --- helpers ----------------------------------------------------------------------

    def _dump(self, value: Any) -> tuple[bytes, bytes]:
        kind, data = self.serde.dumps_typed(value)
        return kind.encode(), data

    def _load(self, kind: bytes, data: bytes) -> Any:
        return self.serde.loads_typed((kind.decode(), data))

    async def _all_threads(self) -> list[str]:
        """Every thread with checkpoints under this prefix (only `alist(None)` needs it)."""
        head = f"{self.prefix}:{{"
        tail = "}:namespaces"
        found = []
        async for key in self.redis.scan_iter(match=f"{_glob_escape(head)}*{tail}", count=500):
            name = _text(key)
            found.append(_unescape(name[len(head):-len(tail)]))
        return sorted(found)

    async def _list_namespace(
        self,
        thread_id: str,
        checkpoint_ns: str,
        wanted_id: str | None,
        before_id: str | None,
        filter: dict[str, Any] | None,
        limit: int | None,
    ) -> AsyncIterator[CheckpointTuple]:
        if wanted_id is not None:
            if before_id is not None and wanted_id >= before_id:
                return
            ids = [wanted_id]
        else:
            upper = f"({before_id}" if before_id else "+"
            ids = [_text(cid) for cid in await self.redis.zrevrangebylex(
                self._index_key(thread_id, checkpoint_ns), upper, "-"
            )]
        checkpoints_key = self._checkpoints_key(thread_id, checkpoint_ns)
        batch = min(limit, _LIST_BATCH) if limit else _LIST_BATCH
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            records = await self.redis.hmget(checkpoints_key, chunk)
            for checkpoint_id, record in zip(chunk, records, strict=True):
                if record is None:  # expired under us, or never stored
                    continue
                if filter:
                    parts = _unpack(record)
                    metadata = self._load(parts[2], parts[3])
                    if not all(metadata.get(key) == value for key, value in filter.items()):
                        continue
                yield await self._load_tuple(thread_id, checkpoint_ns, checkpoint_id, record)

    async def _load_tuple(
        self, thread_id: str, checkpoint_ns: str, checkpoint_id: str, record: bytes
    ) -> CheckpointTuple:
        checkpoint_kind, checkpoint_data, metadata_kind, metadata_data, parent = _unpack(record)
        checkpoint: Checkpoint = self._load(checkpoint_kind, checkpoint_data)
        versions = checkpoint["channel_versions"]
        fields = [self._blob_field(channel, version) for channel, version in versions.items()]
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self._writes_key(thread_id, checkpoint_ns, checkpoint_id))
            if fields:
                pipe.hmget(self._blobs_key(thread_id, checkpoint_ns), fields)
            results = await pipe.execute()
        values: dict[str, Any] = {}
        if fields:
            for channel, blob in zip(versions, results[1], strict=True):
                if blob is None:
                    continue
                kind, data = _unpack(blob)
                if kind.decode() != _EMPTY:
                    values[channel] = self._load(kind, data)
        parent_id = parent.decode()
        return CheckpointTuple(
            config={"configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns,
                                     "checkpoint_id": checkpoint_id}},
            checkpoint={**checkpoint, "channel_values": values},
            metadata=self._load(metadata_kind, metadata_data),
            parent_config=(
                {"configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns,
                                  "checkpoint_id": parent_id}}
                if parent_id else None
            ),
            pending_writes=self._pending_writes(results[0]),
        )

    def _pending_writes(self, stored: dict[bytes, bytes]) -> list[PendingWrite]:
        """Writes in `writes_sort_key` order, the order a live run applies them in."""
        rows = []
        for field, record in stored.items():
            task_id, channel, kind, data, task_path = _unpack(record)
            slot = int(_text(field).rsplit("\0", 1)[1])
            rows.append((writes_sort_key(task_path.decode(), task_id.decode(), slot),
                         (task_id.decode(), channel.decode(), self._load(kind, data))))
        rows.sort(key=lambda row: row[0])
        return [write for _, write in rows]
