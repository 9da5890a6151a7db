"""DynamoDB specifics (against moto's server): the table, big states in chunks, bad data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from checkpointer_backends import dynamodb_endpoint, open_backend, unique_name

from deepagents_nb.exceptions import (
    CheckpointConflictError,
    CheckpointerError,
    CorruptCheckpointError,
)
from deepagents_nb.messages import Message
from deepagents_nb.persistence.dynamodb import CHUNK_BYTES, MAX_STATE_BYTES, DynamoDbCheckpointer
from deepagents_nb.serialization import dump_state
from deepagents_nb.state import AgentStateSnapshot


@pytest.fixture
async def checkpointer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    async with open_backend("dynamodb", tmp_path, monkeypatch) as cp:
        yield cp


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield boto3.session.Session().client("dynamodb", endpoint_url=dynamodb_endpoint(monkeypatch))


def items(client: Any, table: str, thread_id: str) -> list[int]:
    """Sort keys of every item the thread has, chunks included."""
    pages = client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="thread_id = :t",
        ExpressionAttributeValues={":t": {"S": thread_id}},
    )
    return sorted(int(item["version"]["N"]) for page in pages for item in page["Items"])


def big_state(megabytes: float) -> AgentStateSnapshot:
    size = int(megabytes * 1_000_000)
    return AgentStateSnapshot(
        messages=[Message.user("make a big file")],
        files={"/big.txt": "abcdefghij" * (size // 10), "/small.txt": "ü"},
    )


async def test_creates_a_pay_per_request_table_with_the_documented_keys(
    checkpointer: DynamoDbCheckpointer, client: Any
) -> None:
    await checkpointer.list_threads()
    table = client.describe_table(TableName=checkpointer.table_name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
        ("thread_id", "HASH"),
        ("version", "RANGE"),
    ]
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "threads"


async def test_a_one_megabyte_state_is_split_and_reassembled(
    checkpointer: DynamoDbCheckpointer, client: Any
) -> None:
    state = big_state(1)
    size = len(dump_state(state))
    assert size > 1_000_000

    await checkpointer.save("t", AgentStateSnapshot())
    assert await checkpointer.save("t", state, expected_version=1) == 2

    chunks = -(-size // CHUNK_BYTES)
    assert items(client, checkpointer.table_name, "t") == [
        *(-(2 * 1000 + i) for i in reversed(range(chunks))),
        1,
        2,
    ]
    loaded = await checkpointer.load("t")
    assert loaded is not None and loaded.state == state
    assert [info.version for info in await checkpointer.history("t")] == [1, 2]
    assert await checkpointer.list_threads() == ["t"]
    assert await checkpointer.load("t", -2000) is None  # chunks are not versions


async def test_a_stale_save_of_a_big_state_conflicts_and_leaves_no_chunks(
    checkpointer: DynamoDbCheckpointer, client: Any
) -> None:
    await checkpointer.save("t", AgentStateSnapshot())
    await checkpointer.save("t", AgentStateSnapshot())
    with pytest.raises(CheckpointConflictError):
        await checkpointer.save("t", big_state(1), expected_version=1)
    assert items(client, checkpointer.table_name, "t") == [1, 2]


async def test_delete_removes_the_chunks_too(
    checkpointer: DynamoDbCheckpointer, client: Any
) -> None:
    await checkpointer.save("t", big_state(0.8))
    await checkpointer.delete("t")
    assert items(client, checkpointer.table_name, "t") == []
    assert await checkpointer.list_threads() == []


async def test_a_state_over_the_limit_is_refused_whole(
    checkpointer: DynamoDbCheckpointer, client: Any
) -> None:
    state = big_state(MAX_STATE_BYTES / 1_000_000 + 0.1)
    with pytest.raises(CheckpointerError, match=r"the state is 3\.9 MB.*at most 3\.8 MB"):
        await checkpointer.save("t", state)
    assert await checkpointer.load("t") is None
    assert await checkpointer.list_threads() == []


async def test_a_missing_chunk_is_reported(checkpointer: DynamoDbCheckpointer, client: Any) -> None:
    await checkpointer.save("t", big_state(1))
    client.delete_item(
        TableName=checkpointer.table_name,
        Key={"thread_id": {"S": "t"}, "version": {"N": "-1001"}},
    )
    with pytest.raises(CorruptCheckpointError, match="thread 't' version 1: 1 of 3 chunks"):
        await checkpointer.load("t")


async def test_corrupt_state_names_the_thread_and_version(
    checkpointer: DynamoDbCheckpointer, client: Any
) -> None:
    await checkpointer.save("t", AgentStateSnapshot())
    client.update_item(
        TableName=checkpointer.table_name,
        Key={"thread_id": {"S": "t"}, "version": {"N": "1"}},
        UpdateExpression="SET #s = :bad",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":bad": {"B": b"\xffnot json"}},
    )
    with pytest.raises(CorruptCheckpointError, match=r"thread 't' version 1: .*Invalid JSON"):
        await checkpointer.load("t", 1)


async def test_another_instance_reads_the_same_table(
    checkpointer: DynamoDbCheckpointer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await checkpointer.save("t", AgentStateSnapshot(), metadata={"by": "first"})
    second = DynamoDbCheckpointer(
        checkpointer.table_name, endpoint_url=dynamodb_endpoint(monkeypatch)
    )
    loaded = await second.load("t")
    assert loaded is not None and loaded.metadata == {"by": "first"}


async def test_without_create_table_a_missing_table_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cp = DynamoDbCheckpointer(
        unique_name("absent"), endpoint_url=dynamodb_endpoint(monkeypatch), create_table=False
    )
    with pytest.raises(CheckpointerError, match="DynamoDB save failed on table 'absent_"):
        await cp.save("t", AgentStateSnapshot())


async def test_an_empty_thread_id_is_refused_by_dynamodb(
    checkpointer: DynamoDbCheckpointer,
) -> None:
    with pytest.raises(CheckpointerError, match="empty string"):
        await checkpointer.save("", AgentStateSnapshot())
