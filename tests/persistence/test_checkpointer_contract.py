"""The one contract every checkpointer keeps, run against each backend.

`InMemoryCheckpointer` is the reference; the stored backends must behave the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from checkpointer_backends import BACKENDS, busy_state, open_backend

from deepagents_nb.exceptions import CheckpointConflictError
from deepagents_nb.messages import Message
from deepagents_nb.persistence import Checkpointer, CheckpointInfo
from deepagents_nb.state import AgentStateSnapshot


@pytest.fixture(params=BACKENDS)
async def checkpointer(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    async with open_backend(request.param, tmp_path, monkeypatch) as cp:
        yield cp


def state(text: str) -> AgentStateSnapshot:
    return AgentStateSnapshot(messages=[Message.user(text)], files={"/a.txt": text})


async def test_is_a_checkpointer(checkpointer: Any) -> None:
    assert isinstance(checkpointer, Checkpointer)


async def test_an_unknown_thread_has_nothing(checkpointer: Checkpointer) -> None:
    assert await checkpointer.load("nobody") is None
    assert await checkpointer.load("nobody", 1) is None
    assert await checkpointer.history("nobody") == []
    assert await checkpointer.list_threads() == []
    await checkpointer.delete("nobody")  # deleting nothing is fine


async def test_saves_number_versions_from_one_per_thread(checkpointer: Checkpointer) -> None:
    assert [await checkpointer.save("a", state(f"a{i}")) for i in range(3)] == [1, 2, 3]
    assert await checkpointer.save("b", state("b")) == 1


async def test_load_returns_the_latest_or_the_version_asked(checkpointer: Checkpointer) -> None:
    for text in ("one", "two", "three"):
        await checkpointer.save("t", state(text))

    latest = await checkpointer.load("t")
    assert latest is not None
    assert (latest.thread_id, latest.version, latest.state) == ("t", 3, state("three"))
    first = await checkpointer.load("t", 1)
    assert first is not None
    assert (first.version, first.state) == (1, state("one"))
    for missing in (0, 4, -1):
        assert await checkpointer.load("t", missing) is None


async def test_history_lists_versions_in_order(checkpointer: Checkpointer) -> None:
    for i in range(3):
        await checkpointer.save("t", state(str(i)), metadata={"step": i})
    await checkpointer.save("other", state("x"))

    history = await checkpointer.history("t")
    assert all(type(info) is CheckpointInfo for info in history)
    assert [(info.thread_id, info.version, info.metadata) for info in history] == [
        ("t", 1, {"step": 0}),
        ("t", 2, {"step": 1}),
        ("t", 3, {"step": 2}),
    ]
    times = [info.created_at for info in history]
    assert times == sorted(times)
    assert all(t.utcoffset() == timezone.utc.utcoffset(None) for t in times)
    loaded = await checkpointer.load("t", 2)
    assert loaded is not None and loaded.created_at == history[1].created_at


async def test_list_threads_is_sorted_and_unique(checkpointer: Checkpointer) -> None:
    for thread_id in ("b", "a", "c", "a", "B"):
        await checkpointer.save(thread_id, state(thread_id))
    assert await checkpointer.list_threads() == ["B", "a", "b", "c"]


async def test_delete_removes_only_that_thread(checkpointer: Checkpointer) -> None:
    await checkpointer.save("gone", state("1"))
    await checkpointer.save("gone", state("2"))
    await checkpointer.save("kept", state("k"))

    await checkpointer.delete("gone")

    assert await checkpointer.load("gone") is None
    assert await checkpointer.load("gone", 1) is None
    assert await checkpointer.history("gone") == []
    assert await checkpointer.list_threads() == ["kept"]
    assert await checkpointer.save("gone", state("again"), expected_version=0) == 1


async def test_a_stale_expected_version_conflicts_and_saves_nothing(
    checkpointer: Checkpointer,
) -> None:
    await checkpointer.save("t", state("1"))
    await checkpointer.save("t", state("2"), expected_version=1)

    with pytest.raises(CheckpointConflictError) as info:
        await checkpointer.save("t", state("lost"), expected_version=1)

    assert (info.value.thread_id, info.value.expected, info.value.actual) == ("t", 1, 2)
    with pytest.raises(CheckpointConflictError):
        await checkpointer.save("t", state("ahead"), expected_version=5)
    assert [i.version for i in await checkpointer.history("t")] == [1, 2]
    latest = await checkpointer.load("t")
    assert latest is not None and latest.state == state("2")


async def test_expected_version_zero_means_a_new_thread(checkpointer: Checkpointer) -> None:
    assert await checkpointer.save("t", state("first"), expected_version=0) == 1
    with pytest.raises(CheckpointConflictError) as info:
        await checkpointer.save("t", state("again"), expected_version=0)
    assert (info.value.expected, info.value.actual) == (0, 1)


async def test_expected_version_none_skips_the_check(checkpointer: Checkpointer) -> None:
    await checkpointer.save("t", state("1"), expected_version=0)
    assert await checkpointer.save("t", state("2"), expected_version=None) == 2
    assert await checkpointer.save("t", state("3")) == 3


async def test_metadata_round_trips(checkpointer: Checkpointer) -> None:
    metadata = {
        "run_id": "r-1",
        "n": 3,
        "ratio": 0.5,
        "ok": True,
        "none": None,
        "tags": ["a", "ü"],
        "nested": {"deep": {"x": [1, {"y": "z"}]}},
    }
    await checkpointer.save("t", state("x"), metadata=metadata)
    await checkpointer.save("t", state("y"))

    first = await checkpointer.load("t", 1)
    assert first is not None and first.metadata == metadata
    second = await checkpointer.load("t", 2)
    assert second is not None and second.metadata == {}
    assert [info.metadata for info in await checkpointer.history("t")] == [metadata, {}]


async def test_a_long_run_state_round_trips_equal(checkpointer: Checkpointer) -> None:
    saved = busy_state(messages=100, files=50)
    assert len(saved.messages) == 100 and len(saved.files) == 50

    await checkpointer.save("t", saved)
    loaded = await checkpointer.load("t")

    assert loaded is not None
    assert loaded.state == saved
    assert loaded.state.model_dump_json() == saved.model_dump_json()


async def test_a_save_keeps_the_state_as_it_was(checkpointer: Checkpointer) -> None:
    live = state("before")
    await checkpointer.save("t", live)
    live.files["/a.txt"] = "after"
    live.messages.append(Message.user("later"))

    loaded = await checkpointer.load("t")
    assert loaded is not None and loaded.state == state("before")
    loaded.state.files.clear()  # a loaded state is the caller's to change
    reloaded = await checkpointer.load("t")
    assert reloaded is not None and reloaded.state == state("before")


async def test_every_version_loads_as_saved_while_history_grows_is_rewritten_and_cut(
    checkpointer: Checkpointer,
) -> None:
    # A run appends, a summary rewrites, a time-travel save cuts back: the in-memory
    # store shares one message log between versions, and must still give each back.
    a, b, c, summary = (Message.user(x) for x in ("a", "b", "c", "summary"))
    live = AgentStateSnapshot(messages=[a], files={"/f": "1"}, extra={"k": [1]})
    saved = []
    for change in (
        lambda s: s.messages.append(b),
        lambda s: s.files.update({"/g": "2"}),
        lambda s: setattr(s, "messages", [summary, c]),
        lambda s: s.messages.append(a),
        lambda s: setattr(s, "messages", [summary]),
        lambda s: setattr(s, "messages", [a, b, c]),
        lambda s: s.extra.pop("k"),
    ):
        await checkpointer.save("t", live, metadata={"n": len(saved)})
        saved.append(live.model_copy(deep=True))
        change(live)
    await checkpointer.save("t", live)
    saved.append(live.model_copy(deep=True))

    for number, expected in enumerate(saved, start=1):
        loaded = await checkpointer.load("t", number)
        assert loaded is not None and loaded.state == expected, f"version {number}"
    assert [info.metadata for info in await checkpointer.history("t")] == [
        {"n": n} for n in range(7)
    ] + [{}]


async def test_of_concurrent_saves_on_one_version_exactly_one_wins(
    checkpointer: Checkpointer,
) -> None:
    results = await asyncio.gather(
        *(checkpointer.save("t", state(str(i)), expected_version=0) for i in range(5)),
        return_exceptions=True,
    )
    assert results.count(1) == 1
    assert all(isinstance(r, CheckpointConflictError) for r in results if r != 1)
    assert [info.version for info in await checkpointer.history("t")] == [1]


async def test_concurrent_saves_without_a_check_all_land(checkpointer: Checkpointer) -> None:
    versions = await asyncio.gather(*(checkpointer.save("t", state(str(i))) for i in range(5)))
    assert sorted(versions) == [1, 2, 3, 4, 5]
    assert [info.version for info in await checkpointer.history("t")] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    "thread_id", ["a:info", "a:states", "a:files", "a:contents", "user/42 🙂", "a b\nc"]
)
async def test_thread_ids_are_opaque(checkpointer: Checkpointer, thread_id: str) -> None:
    await checkpointer.save("a", state("plain"))
    await checkpointer.save(thread_id, state("odd"))

    odd, plain = await checkpointer.load(thread_id), await checkpointer.load("a")
    assert odd is not None and odd.state == state("odd")
    assert plain is not None and (plain.version, plain.state) == (1, state("plain"))
    assert await checkpointer.list_threads() == sorted(["a", thread_id])


async def test_usable_from_another_event_loop(checkpointer: Checkpointer) -> None:
    # A notebook awaits in its own loop and makes sync calls on a private one.
    await checkpointer.save("t", state("here"))
    elsewhere = await asyncio.to_thread(asyncio.run, checkpointer.load("t"))
    assert elsewhere is not None and elsewhere.state == state("here")
    assert await checkpointer.save("t", state("back"), expected_version=1) == 2
