"""Optional backends load lazily and, without their driver, say what to install."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import deepagents_nb
import deepagents_nb.persistence as persistence
from deepagents_nb.exceptions import MissingDependencyError
from deepagents_nb.persistence.dynamodb import DynamoDbCheckpointer
from deepagents_nb.persistence.postgres import PostgresCheckpointer
from deepagents_nb.persistence.redis import RedisCheckpointer

DRIVERS = ["redis", "psycopg", "psycopg_pool", "boto3", "botocore"]


def test_importing_the_package_loads_no_driver() -> None:
    code = (
        "import sys, json, deepagents_nb, deepagents_nb.persistence; "
        f"print(json.dumps([m for m in {DRIVERS!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_backends_resolve_lazily_from_the_persistence_package() -> None:
    assert persistence.RedisCheckpointer is RedisCheckpointer
    assert persistence.PostgresCheckpointer is PostgresCheckpointer
    assert persistence.DynamoDbCheckpointer is DynamoDbCheckpointer
    assert deepagents_nb.SqliteCheckpointer is persistence.SqliteCheckpointer
    assert persistence.__all__ == sorted(persistence.__all__)
    for name in persistence.__all__:
        assert getattr(persistence, name).__name__ == name
    with pytest.raises(AttributeError, match="NoSuchCheckpointer"):
        _ = persistence.NoSuchCheckpointer


@pytest.mark.parametrize(
    ("make", "missing", "extra"),
    [
        (lambda: RedisCheckpointer("redis://127.0.0.1:1/0"), ["redis.asyncio"], "redis"),
        (lambda: PostgresCheckpointer("postgresql:///x"), ["psycopg"], "postgres"),
        (lambda: PostgresCheckpointer("postgresql:///x"), ["psycopg_pool"], "postgres"),
        (lambda: DynamoDbCheckpointer("t"), ["boto3"], "dynamodb"),
    ],
    ids=["redis", "psycopg", "psycopg_pool", "boto3"],
)
def test_a_missing_driver_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, make: object, missing: list[str], extra: str
) -> None:
    for module in missing:
        monkeypatch.setitem(sys.modules, module, None)  # what a failed import looks like

    with pytest.raises(MissingDependencyError) as info:
        make()  # type: ignore[operator]

    assert info.value.extra == extra
    assert f'pip install "deepagents-nb[{extra}]"' in str(info.value)
    assert isinstance(info.value.__cause__, ImportError)
