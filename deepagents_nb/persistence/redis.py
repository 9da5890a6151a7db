"""`RedisCheckpointer`: threads in Redis, with optional expiry.

Keys, for prefix `p` and thread `t`:

- `p:thread:t:info`: hash, version -> `{"created_at": ..., "metadata": {...}}`
- `p:thread:t:states`: hash, version -> the state's JSON from `dump_apart`, without
  its files (format 2) or its files and images (format 3) for versions that have a
  map in `files`
- `p:thread:t:files`: hash, version -> JSON map path -> SHA-256 of the content, in
  the files' order, then image key -> SHA-256 of its base64 text; versions written
  before it existed have none, and their state holds the files (format 1)
- `p:thread:t:contents`: hash, SHA-256 -> content, each distinct content (file or
  image) of the thread once (see _redis_files)
- `p:threads`: sorted set of thread ids, scored by expiry time (ms, `+inf` without TTL)

Writes are Lua scripts, so checking `expected_version` and adding a version is one
atomic step on the server, and one round trip. The scripts touch several keys, so
use a single Redis (or its primary), not Redis Cluster.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deepagents_nb.events import utc_now
from deepagents_nb.exceptions import CheckpointConflictError, CheckpointerError, ConfigurationError
from deepagents_nb.persistence._lazy import PerLoop, optional_dependency
from deepagents_nb.persistence._records import (
    corrupt,
    decode_checkpoint,
    decode_info,
    encode_metadata,
)
from deepagents_nb.persistence._redis_files import Arg, ThreadContents
from deepagents_nb.persistence.base import Checkpoint, CheckpointInfo, ClosingCheckpointer
from deepagents_nb.serialization import dump_apart
from deepagents_nb.state import AgentStateSnapshot

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

# KEYS: info, states, contents, files, threads. ARGV: thread id, expected version or
# '', info, state, TTL ms or '', map, n, the map's n distinct hashes, then hash and
# content pairs to store. Versions are 1..n and never removed one by one, so the
# info hash's length is the latest. A hash neither sent nor held is returned, and
# nothing changes: the caller's memory of the thread's contents was stale.
_SAVE = """
local latest = redis.call('HLEN', KEYS[1])
if ARGV[2] ~= '' and tonumber(ARGV[2]) ~= latest then
  return {0, latest}
end
local pairs_at = 8 + tonumber(ARGV[7])
local sent = {}
for i = pairs_at, #ARGV, 2 do
  sent[ARGV[i]] = true
end
local missing = {2}
for i = 8, pairs_at - 1 do
  if not sent[ARGV[i]] and redis.call('HEXISTS', KEYS[3], ARGV[i]) == 0 then
    missing[#missing + 1] = ARGV[i]
  end
end
if #missing > 1 then
  return missing
end
for i = pairs_at, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
end
local version = latest + 1
redis.call('HSET', KEYS[1], version, ARGV[3])
redis.call('HSET', KEYS[2], version, ARGV[4])
redis.call('HSET', KEYS[4], version, ARGV[6])
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
local expires = '+inf'
if ARGV[5] ~= '' then
  for i = 1, 4 do
    redis.call('PEXPIRE', KEYS[i], ARGV[5])
  end
  expires = now_ms + tonumber(ARGV[5])
end
redis.call('ZADD', KEYS[5], expires, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now_ms)
return {1, version}
"""
# KEYS: info, states, contents, files. A version without a map is format 1. The
# contents come one per path in the map's order, read off its text (cjson's tables
# lose the order, and sending the hashes back too doubles what redis-py parses): in
# JSON text, quoted hex digits followed by `,` or `}` can only be a value.
_LOAD = """
local version = ARGV[1]
if version == '' then
  version = redis.call('HLEN', KEYS[1])
end
local info = redis.call('HGET', KEYS[1], version)
if not info then
  return false
end
local state = redis.call('HGET', KEYS[2], version)
local refs = redis.call('HGET', KEYS[4], version)
if not refs then
  return {tonumber(version), info, state}
end
local contents = {}
for digest in string.gmatch(refs, '"(%x+)"[,}]') do
  contents[#contents + 1] = redis.call('HGET', KEYS[3], digest)
end
return {tonumber(version), info, state, refs, contents}
"""
_LIST = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now_ms, '+inf')
"""
_DELETE = """
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[1])
"""
_CONFLICT, _MISSING = 0, 2  # the save script's first word; 1 is saved


@dataclass(frozen=True)
class _Connection:
    client: Redis
    save: AsyncScript
    load: AsyncScript
    threads: AsyncScript
    delete: AsyncScript


class RedisCheckpointer(ClosingCheckpointer):
    """Keeps every version of every thread in Redis (redis-py's asyncio client).

    Each distinct file content and image is stored once per thread, so a step sends
    and writes only the files it changed and the images it added.

        checkpointer = RedisCheckpointer("redis://localhost:6379/0", ttl_seconds=7 * 86400)

    Each event loop that uses the checkpointer gets its own pool of at most
    `max_connections` connections. A call that finds them all busy waits for one
    (up to `pool_timeout` seconds) instead of failing, so thousands of threads
    saving at once queue up rather than raise "Too many connections".

    Args:
        url: A redis-py URL (`redis://`, `rediss://`, `unix://`).
        ttl_seconds: When set, each save makes all of a thread's keys expire this long
            after it; threads no one writes to disappear together with their versions.
        prefix: Start of every key, to share a database with other data.
        max_connections: Most connections one event loop's pool opens.
        pool_timeout: Seconds a call waits for a free connection before it fails
            with `CheckpointerError`; None waits as long as it takes.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl_seconds: float | None = None,
        prefix: str = "deepagents",
        max_connections: int = 50,
        pool_timeout: float | None = 60.0,
    ) -> None:
        with optional_dependency("RedisCheckpointer", "redis"):
            import redis.asyncio as aioredis
        if ttl_seconds is not None and ttl_seconds * 1000 < 1:
            raise ConfigurationError(f"ttl_seconds must be positive, got {ttl_seconds}")
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise ConfigurationError(f"max_connections must be an int, got {max_connections!r}")
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be at least 1, got {max_connections}")
        if pool_timeout is not None and not pool_timeout > 0:
            raise ConfigurationError(f"pool_timeout must be positive or None, got {pool_timeout}")
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self._ttl_ms = "" if ttl_seconds is None else str(int(ttl_seconds * 1000))
        self._driver = aioredis
        self._url = url
        self._connections = PerLoop(self._open, _close)
        self._files = ThreadContents()

    def __repr__(self) -> str:
        return (
            f"RedisCheckpointer(prefix={self.prefix!r}, ttl_seconds={self.ttl_seconds}, "
            f"max_connections={self.max_connections})"
        )

    async def close(self) -> None:
        """Close the connections; a later call opens new ones."""
        await self._connections.aclose()

    async def save(
        self,
        thread_id: str,
        state: AgentStateSnapshot,
        *,
        expected_version: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        created_at, meta = utc_now().isoformat(), encode_metadata(metadata)
        info = f'{{"created_at":"{created_at}","metadata":{meta}}}'
        expected = "" if expected_version is None else str(expected_version)
        state_json, images = dump_apart(state)
        upload = self._files.upload(thread_id, state.files, images)
        keys = self._keys(thread_id)
        head: list[Arg] = [thread_id, expected, info, state_json, self._ttl_ms]
        async with self._connection("save") as redis:
            reply = await redis.save(keys, head + upload.args(), client=redis.client)
            if reply[0] == _MISSING:
                # The thread lost contents we believed it held: another process deleted
                # it, or its keys expired. Nothing was written; send those too, once.
                upload.resend(reply[1:])
                reply = await redis.save(keys, head + upload.args(), client=redis.client)
        status, *rest = reply
        if status == _CONFLICT:
            raise CheckpointConflictError(thread_id, expected_version, int(rest[0]))
        if status == _MISSING:
            raise CheckpointerError(
                f"Redis save failed: contents of thread {thread_id!r} vanished while it was "
                "saved (deleted or expired meanwhile); nothing was saved"
            )
        self._files.saved(thread_id, upload)
        return int(rest[0])

    async def load(self, thread_id: str, version: int | None = None) -> Checkpoint | None:
        async with self._connection("load") as redis:
            found = await redis.load(
                self._keys(thread_id)[:4], ["" if version is None else version], client=redis.client
            )
        if found is None:
            return None
        number, info, state, *apart = found
        files = None
        if apart:  # a version whose files are kept apart: its map and their contents
            files = self._files.read(thread_id, int(number), *apart)
        return decode_checkpoint(_decode_info(thread_id, int(number), info), state, files)

    async def delete(self, thread_id: str) -> None:
        async with self._connection("delete") as redis:
            await redis.delete(self._keys(thread_id), [thread_id], client=redis.client)
        self._files.forget(thread_id)

    async def list_threads(self) -> list[str]:
        async with self._connection("list threads") as redis:
            members = await redis.threads([f"{self.prefix}:threads"], client=redis.client)
        return sorted(member.decode() for member in members)

    async def history(self, thread_id: str) -> list[CheckpointInfo]:
        async with self._connection("history") as redis:
            infos = await redis.client.hgetall(self._keys(thread_id)[0])
        versions = sorted((int(version), info) for version, info in infos.items())
        return [_decode_info(thread_id, version, info) for version, info in versions]

    def _keys(self, thread_id: str) -> list[str]:
        # Different last words keep one thread's keys from ever naming another's.
        thread = f"{self.prefix}:thread:{thread_id}"
        return [
            f"{thread}:info",
            f"{thread}:states",
            f"{thread}:contents",
            f"{thread}:files",
            f"{self.prefix}:threads",
        ]

    async def _open(self) -> _Connection:
        # redis-py's default pool raises "Too many connections" once 100 are in use;
        # a blocking pool makes the extra callers wait their turn instead.
        pool = self._driver.BlockingConnectionPool.from_url(
            self._url, max_connections=self.max_connections, timeout=self.pool_timeout
        )
        client = self._driver.Redis.from_pool(pool)  # closes the pool when it closes
        scripts = (client.register_script(s) for s in (_SAVE, _LOAD, _LIST, _DELETE))
        return _Connection(client, *scripts)

    @asynccontextmanager
    async def _connection(self, action: str) -> AsyncIterator[_Connection]:
        try:
            yield await self._connections.get()
        except self._driver.RedisError as exc:
            hint = ""
            if isinstance(exc.__cause__, TimeoutError) and "No connection available" in str(exc):
                hint = (
                    f" (all {self.max_connections} connections stayed busy for "
                    f"{self.pool_timeout} s; raise max_connections or pool_timeout)"
                )
            raise CheckpointerError(f"Redis {action} failed: {exc}{hint}") from exc


async def _close(connection: _Connection) -> None:
    await connection.client.aclose()


def _decode_info(thread_id: str, version: int, info: bytes | str) -> CheckpointInfo:
    try:
        fields = json.loads(info)
        created_at, metadata = fields["created_at"], fields["metadata"]
    except (ValueError, TypeError, KeyError):
        raise corrupt(thread_id, version, "unreadable version info") from None
    return decode_info(thread_id, version, created_at, metadata)
