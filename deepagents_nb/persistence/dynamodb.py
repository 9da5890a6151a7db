"""`DynamoDbCheckpointer`: threads in an Amazon DynamoDB table, through boto3.

Table layout (created when missing: pay-per-request, partition key `thread_id`
(S), sort key `version` (N)):

- version `n > 0`: one item per saved version with `created_at`, `metadata`
  (JSON text) and `state` (binary), or `chunks` (a count) when the state is too
  big for one item (DynamoDB items hold 400 KB).
- version `-(n * 1000 + i)`: chunk `i` of version `n`'s state. Negative sort keys
  keep chunks out of the queries for versions (`version > 0`).
- global secondary index `threads` (keys only): on `thread_list`, an attribute set
  on version 1 items only, so `list_threads` reads one item per thread, never a scan.

A version and its chunks are written in one transaction, conditional on the
version being new (and `expected_version` existing), so a state is never seen
half written and two writers never both win. DynamoDB limits a transaction to
4 MB, so larger states are refused with `CheckpointerError`, never truncated.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from deepagents_nb.events import utc_now
from deepagents_nb.exceptions import CheckpointConflictError, CheckpointerError
from deepagents_nb.persistence._lazy import optional_dependency
from deepagents_nb.persistence._records import (
    corrupt,
    decode_checkpoint,
    decode_info,
    encode_metadata,
)
from deepagents_nb.persistence.base import Checkpoint, CheckpointInfo
from deepagents_nb.serialization import dump_state
from deepagents_nb.state import AgentStateSnapshot

T = TypeVar("T")

CHUNK_BYTES = 350_000  # below the 400 KB item limit, with room for keys and attributes
MAX_STATE_BYTES = 3_800_000  # a transaction carries at most 4 MB
_CHUNK_SLOTS = 1000  # sort keys reserved per version for its chunks
_INDEX = "threads"
_SAVE_ATTEMPTS = 20  # for expected_version=None, when other writers take the next versions
# Why a transaction was cancelled, per action: these mean another writer came first.
_CONFLICT_REASONS = {"ConditionalCheckFailed", "TransactionConflict", "None"}


class DynamoDbCheckpointer:
    """Keeps every version of every thread in a DynamoDB table.

        checkpointer = DynamoDbCheckpointer("agent-threads", region="eu-west-1")

    boto3's client is synchronous, so every call runs in a worker thread.
    Credentials come from boto3's usual chain (environment, profile, role).

    Args:
        table_name: The table; created on first use unless `create_table=False`.
        endpoint_url: Another endpoint, such as DynamoDB Local or moto.
        region: AWS region; defaults to boto3's configuration (`us-east-1` for a
            custom endpoint when none is configured).
        create_table: Create the table (layout in the module docstring) when missing.
    """

    def __init__(
        self,
        table_name: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        *,
        create_table: bool = True,
    ) -> None:
        with optional_dependency("DynamoDbCheckpointer", "dynamodb"):
            import boto3
            import botocore.exceptions
        self.table_name = table_name
        self._endpoint_url = endpoint_url
        self._region = region
        self._create_table = create_table
        self._boto3 = boto3
        self._errors = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DynamoDbCheckpointer({self.table_name!r})"

    async def save(
        self,
        thread_id: str,
        state: AgentStateSnapshot,
        *,
        expected_version: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> int:
        data, info = dump_state(state), encode_metadata(metadata)
        if len(data) > MAX_STATE_BYTES or len(info) > CHUNK_BYTES:
            raise CheckpointerError(
                f"thread {thread_id!r}: the state is {len(data) / 1e6:.1f} MB and its metadata "
                f"{len(info) / 1e3:.0f} kB; DynamoDbCheckpointer stores at most "
                f"{MAX_STATE_BYTES / 1e6:.1f} MB of state and {CHUNK_BYTES / 1e3:.0f} kB of "
                "metadata per version. Keep large files outside the agent's state."
            )
        return await self._call("save", self._save, thread_id, data, info, expected_version)

    async def load(self, thread_id: str, version: int | None = None) -> Checkpoint | None:
        return await self._call("load", self._load, thread_id, version)

    async def delete(self, thread_id: str) -> None:
        await self._call("delete", self._delete, thread_id)

    async def list_threads(self) -> list[str]:
        items = await self._call(
            "list threads",
            self._query,
            IndexName=_INDEX,
            KeyConditionExpression="thread_list = :all",
            ExpressionAttributeValues={":all": {"S": "all"}},
        )
        return sorted(item["thread_id"]["S"] for item in items)

    async def history(self, thread_id: str) -> list[CheckpointInfo]:
        query = _versions_of(thread_id)
        # Names through placeholders, as DynamoDB reserves hundreds of words.
        query["ExpressionAttributeNames"].update({"#c": "created_at", "#m": "metadata"})
        items = await self._call(
            "history", self._query, ConsistentRead=True, ProjectionExpression="#v, #c, #m", **query
        )
        return [_info(thread_id, item) for item in items]

    # ----- on worker threads ---------------------------------------------------------------

    async def _call(self, action: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def run() -> T:
            try:
                return fn(*args, **kwargs)
            except self._errors as exc:
                raise CheckpointerError(
                    f"DynamoDB {action} failed on table {self.table_name!r}: {exc}"
                ) from exc

        return await asyncio.to_thread(run)

    def _dynamodb(self) -> Any:
        # Created on a worker thread: building a client takes tens of milliseconds.
        with self._lock:
            if self._client is None:
                session = self._boto3.session.Session()
                region = self._region or session.region_name
                if region is None and self._endpoint_url is not None:
                    region = "us-east-1"  # local endpoints ignore it, but boto3 needs one
                client = session.client(
                    "dynamodb", endpoint_url=self._endpoint_url, region_name=region
                )
                if self._create_table:
                    self._ensure_table(client)
                self._client = client
            return self._client

    def _ensure_table(self, client: Any) -> None:
        try:
            table = client.describe_table(TableName=self.table_name)["Table"]
            if table["TableStatus"] == "ACTIVE":
                return
        except client.exceptions.ResourceNotFoundException:
            self._new_table(client)
        client.get_waiter("table_exists").wait(
            TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )

    def _new_table(self, client: Any) -> None:
        # ResourceInUse: another process is creating it.
        with suppress(client.exceptions.ResourceInUseException):
            client.create_table(
                TableName=self.table_name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "thread_id", "AttributeType": "S"},
                    {"AttributeName": "version", "AttributeType": "N"},
                    {"AttributeName": "thread_list", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "thread_id", "KeyType": "HASH"},
                    {"AttributeName": "version", "KeyType": "RANGE"},
                ],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": _INDEX,
                        "KeySchema": [
                            {"AttributeName": "thread_list", "KeyType": "HASH"},
                            {"AttributeName": "thread_id", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                ],
            )

    def _query(self, **params: Any) -> list[dict[str, Any]]:
        pages = (
            self._dynamodb().get_paginator("query").paginate(TableName=self.table_name, **params)
        )
        return [item for page in pages for item in page["Items"]]

    def _latest(self, thread_id: str) -> int:
        found = self._dynamodb().query(
            TableName=self.table_name,
            ConsistentRead=True,
            ScanIndexForward=False,
            Limit=1,
            ProjectionExpression="#v",
            **_versions_of(thread_id),
        )["Items"]
        return int(found[0]["version"]["N"]) if found else 0

    def _save(self, thread_id: str, data: bytes, info: str, expected: int | None) -> int:
        for _ in range(_SAVE_ATTEMPTS):
            latest = self._latest(thread_id) if expected is None else expected
            try:
                self._write(thread_id, latest, expected is not None, data, info)
            except self._errors[1] as exc:
                if not _is_conflict(exc.response):
                    raise
                if expected is not None:
                    break
                continue  # another writer took the next version: try the one after
            return latest + 1
        raise CheckpointConflictError(thread_id, expected, self._latest(thread_id))

    def _write(self, thread_id: str, latest: int, check: bool, data: bytes, info: str) -> None:
        version = latest + 1
        item: dict[str, Any] = {
            "thread_id": {"S": thread_id},
            "version": {"N": str(version)},
            "created_at": {"S": utc_now().isoformat()},
            "metadata": {"S": info},
        }
        if version == 1:
            item["thread_list"] = {"S": "all"}
        chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)]
        if len(data) + len(info) <= CHUNK_BYTES:
            item["state"], chunks = {"B": data}, []
        else:
            item["chunks"] = {"N": str(len(chunks))}
        new = "attribute_not_exists(thread_id)"
        if not chunks and not (check and latest > 0):
            self._dynamodb().put_item(TableName=self.table_name, Item=item, ConditionExpression=new)
            return
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table_name, "Item": item, "ConditionExpression": new}}
        ]
        actions += [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": {**_key(thread_id, _chunk_key(version, index)), "chunk": {"B": part}},
                    "ConditionExpression": new,
                }
            }
            for index, part in enumerate(chunks)
        ]
        if check and latest > 0:
            # Versions are contiguous: `latest` existing and `version` new means latest is it.
            actions.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table_name,
                        "Key": _key(thread_id, latest),
                        "ConditionExpression": "attribute_exists(thread_id)",
                    }
                }
            )
        self._dynamodb().transact_write_items(TransactItems=actions)

    def _load(self, thread_id: str, version: int | None) -> Checkpoint | None:
        client = self._dynamodb()
        if version is None:
            found = client.query(
                TableName=self.table_name,
                ConsistentRead=True,
                ScanIndexForward=False,
                Limit=1,
                **_versions_of(thread_id),
            )["Items"]
            item = found[0] if found else None
        elif version < 1:
            item = None  # sort keys below 1 hold chunks, not versions
        else:
            item = client.get_item(
                TableName=self.table_name, Key=_key(thread_id, version), ConsistentRead=True
            ).get("Item")
        if item is None:
            return None
        info = _info(thread_id, item)
        if "state" in item:
            return decode_checkpoint(info, item["state"]["B"])
        return decode_checkpoint(info, self._chunks(info, item))

    def _chunks(self, info: CheckpointInfo, item: dict[str, Any]) -> bytes:
        try:
            count = int(item["chunks"]["N"])
        except (KeyError, ValueError):
            raise corrupt(info.thread_id, info.version, "the state is missing") from None
        first = _chunk_key(info.version, 0)
        parts = self._query(
            KeyConditionExpression="thread_id = :t AND #v BETWEEN :low AND :high",
            ExpressionAttributeNames={"#v": "version"},
            ExpressionAttributeValues={
                ":t": {"S": info.thread_id},
                ":low": {"N": str(first - count + 1)},
                ":high": {"N": str(first)},
            },
            ConsistentRead=True,
            ScanIndexForward=False,  # chunk 0 has the highest sort key
        )
        if len(parts) != count:
            raise corrupt(
                info.thread_id, info.version, f"{count - len(parts)} of {count} chunks are missing"
            )
        return b"".join(part["chunk"]["B"] for part in parts)

    def _delete(self, thread_id: str) -> None:
        keys = self._query(
            KeyConditionExpression="thread_id = :t",
            ExpressionAttributeValues={":t": {"S": thread_id}},
            ProjectionExpression="thread_id, #v",
            ExpressionAttributeNames={"#v": "version"},
            ConsistentRead=True,
        )
        # Versions first, newest first, so a reader never finds a version without its chunks.
        keys.sort(key=lambda key: -int(key["version"]["N"]))
        for batch in (keys[i : i + 25] for i in range(0, len(keys), 25)):
            requests = {self.table_name: [{"DeleteRequest": {"Key": key}} for key in batch]}
            for pause in (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, None):
                requests = (
                    self._dynamodb().batch_write_item(RequestItems=requests).get("UnprocessedItems")
                )
                if not requests:
                    break
                if pause is None:
                    raise CheckpointerError(
                        f"DynamoDB kept throttling the delete of thread {thread_id!r}; retry it"
                    )
                time.sleep(pause)  # throttled: back off before sending the rest again


def _is_conflict(response: dict[str, Any]) -> bool:
    code = response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    reasons = {reason.get("Code", "None") for reason in response.get("CancellationReasons", [])}
    return code == "TransactionCanceledException" and reasons <= _CONFLICT_REASONS


def _key(thread_id: str, version: int) -> dict[str, Any]:
    return {"thread_id": {"S": thread_id}, "version": {"N": str(version)}}


def _chunk_key(version: int, index: int) -> int:
    return -(version * _CHUNK_SLOTS + index)


def _versions_of(thread_id: str) -> dict[str, Any]:
    return {
        "KeyConditionExpression": "thread_id = :t AND #v > :zero",
        "ExpressionAttributeNames": {"#v": "version"},
        "ExpressionAttributeValues": {":t": {"S": thread_id}, ":zero": {"N": "0"}},
    }


def _info(thread_id: str, item: dict[str, Any]) -> CheckpointInfo:
    version = int(item["version"]["N"])
    try:
        created_at, metadata = item["created_at"]["S"], item["metadata"]["S"]
    except KeyError:
        raise corrupt(thread_id, version, "unreadable version info") from None
    return decode_info(thread_id, version, created_at, metadata)
