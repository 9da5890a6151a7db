"""Where the persistence tests find their services, and each backend opened on an empty store.

Services come from the environment (`.ci/run` starts them and sets these):

- `DEEPAGENTS_NB_REDIS_URL`, else `redis://127.0.0.1:6379/0` when something listens there
- `DEEPAGENTS_NB_POSTGRES_DSN`
- `DEEPAGENTS_NB_DYNAMODB_ENDPOINT` (moto in server mode, or DynamoDB Local)

Every backend gets a store of its own (a fresh file, key prefix or table) that is
removed afterwards, so tests never see each other's threads.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from helpers import require_service

from deepagents_nb.messages import Message, ToolCall
from deepagents_nb.persistence import InMemoryCheckpointer, SqliteCheckpointer
from deepagents_nb.state import AgentStateSnapshot, TodoItem

BACKENDS = ["memory", "sqlite", "redis", "postgres", "dynamodb"]
STORED_BACKENDS = BACKENDS[1:]


@functools.cache
def _listening(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def redis_url() -> str:
    """The test Redis URL; skips (fails in CI) when nothing listens there."""
    url = os.environ.get("DEEPAGENTS_NB_REDIS_URL", "redis://127.0.0.1:6379/0")
    parts = urlsplit(url)
    up = parts.scheme == "unix" or _listening(parts.hostname or "127.0.0.1", parts.port or 6379)
    require_service("redis", up, f"set DEEPAGENTS_NB_REDIS_URL or start redis-server; tried {url}")
    return url


def postgres_dsn() -> str:
    """The test PostgreSQL DSN; skips (fails in CI) when unset or unreachable."""
    dsn = os.environ.get("DEEPAGENTS_NB_POSTGRES_DSN", "")
    up = False
    if dsn:
        from psycopg.conninfo import conninfo_to_dict

        params = conninfo_to_dict(dsn)
        host = str(params.get("host") or "127.0.0.1")
        up = host.startswith("/") or _listening(host, int(params.get("port") or 5432))
    require_service("postgres", up, "set DEEPAGENTS_NB_POSTGRES_DSN to a database tests may use")
    return dsn


def dynamodb_endpoint(monkeypatch: pytest.MonkeyPatch) -> str:
    """The test DynamoDB endpoint, with fake AWS credentials so nothing real is used."""
    endpoint = os.environ.get("DEEPAGENTS_NB_DYNAMODB_ENDPOINT", "")
    parts = urlsplit(endpoint)
    up = bool(endpoint) and _listening(parts.hostname or "127.0.0.1", parts.port or 80)
    require_service(
        "dynamodb", up, "set DEEPAGENTS_NB_DYNAMODB_ENDPOINT, e.g. to `moto_server -p 5000`"
    )
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return endpoint


def unique_name(stem: str) -> str:
    return f"{stem}_{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def open_backend(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> AsyncIterator[Any]:
    """A backend on an empty store of its own, removed on exit."""
    if name == "memory":
        yield InMemoryCheckpointer()
    elif name == "sqlite":
        sqlite = SqliteCheckpointer(tmp_path / "threads.db", **options)
        async with sqlite:
            yield sqlite
    elif name == "redis":
        async with _redis(redis_url(), **options) as cp:
            yield cp
    elif name == "postgres":
        async with _postgres(postgres_dsn(), **options) as cp:
            yield cp
    elif name == "dynamodb":
        async with _dynamodb(dynamodb_endpoint(monkeypatch), **options) as cp:
            yield cp
    else:
        raise ValueError(name)


@asynccontextmanager
async def _redis(url: str, **options: Any) -> AsyncIterator[Any]:
    import redis.asyncio

    from deepagents_nb.persistence.redis import RedisCheckpointer

    prefix = unique_name("test")
    try:
        async with RedisCheckpointer(url, prefix=prefix, **options) as cp:
            yield cp
    finally:
        async with redis.asyncio.Redis.from_url(url) as client:
            keys = [key async for key in client.scan_iter(f"{prefix}:*")]
            if keys:
                await client.delete(*keys)


@asynccontextmanager
async def _postgres(dsn: str, **options: Any) -> AsyncIterator[Any]:
    from deepagents_nb.persistence.postgres import PostgresCheckpointer

    options.setdefault("table", unique_name("checkpoints"))
    try:
        async with PostgresCheckpointer(dsn, **options) as cp:
            yield cp
    finally:
        await drop_postgres_tables(dsn, options["table"])


async def drop_postgres_tables(dsn: str, table: str) -> None:
    """Drop a checkpointer's tables: its versions and its file contents."""
    import psycopg
    from psycopg import sql

    from deepagents_nb.persistence._postgres_files import related_names

    names = related_names(table)
    tables = [sql.Identifier(*names[key]) for key in ("table", "contents", "links")]
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.SQL(", ").join(tables)))


@functools.cache
def _dynamodb_admin(endpoint: str) -> Any:
    import boto3

    return boto3.session.Session().client("dynamodb", endpoint_url=endpoint)


@asynccontextmanager
async def _dynamodb(endpoint: str, **options: Any) -> AsyncIterator[Any]:
    from deepagents_nb.persistence.dynamodb import DynamoDbCheckpointer

    table = unique_name("checkpoints")
    try:
        yield DynamoDbCheckpointer(table, endpoint_url=endpoint, **options)
    finally:
        client = _dynamodb_admin(endpoint)
        with suppress(client.exceptions.ResourceNotFoundException):  # never used
            client.delete_table(TableName=table)


def busy_state(messages: int = 100, files: int = 50) -> AgentStateSnapshot:
    """A state like a long run leaves: tool calls and results, files, a plan, extras."""
    history: list[Message] = [Message.system("You are careful."), Message.user("Start.")]
    while len(history) < messages:
        n = len(history)
        args = {"path": f"/notes/{n}.md", "text": "é" * n}
        call = ToolCall(name="write_file", args=args, id=f"call_{n}")
        history.append(Message.assistant(f"step {n}", tool_calls=[call]))
        history.append(Message.tool(call.id, "write_file", f"wrote {n} chars", is_error=n % 7 == 0))
    return AgentStateSnapshot(
        messages=history[:messages],
        todos=[TodoItem(content="plan", status="completed"), TodoItem(content="write")],
        files={f"/notes/{i}.md": f"# Note {i}\n" + "line ✓\n" * i for i in range(files)},
        extra={"interrupts": [], "counters": {"calls": messages // 2}, "ratio": 0.25},
    )
