"""The saved notebooks and cassettes: what nbval does not check by running them.

nbval (in `make test`) re-runs every notebook and compares outputs; these checks
look at the files themselves: each notebook was saved after one clean run from
the top, its outputs hold nothing specific to the machine that ran it, and the
cassette `06_providers.ipynb` replays is what its recipe records, with no key.
"""

from __future__ import annotations

import importlib.util
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CASSETTES = NOTEBOOKS / "cassettes"
NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))

# Text that differs between machines and would make a saved output wrong elsewhere.
MACHINE_SPECIFIC = {
    "a temporary directory": re.escape(tempfile.gettempdir().rstrip("/") + "/"),
    "the repository's path": re.escape(str(NOTEBOOKS.parent)),
    "the home directory": re.escape(str(Path.home()) + "/"),
    "a memory address": r" at 0x[0-9a-fA-F]{6,}",
}
KEY_LIKE = re.compile(r"\b(sk|sk-ant|AIza)[-_][A-Za-z0-9_-]{12,}")


def load(path: Path) -> dict[str, Any]:
    notebook: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return notebook


def code_cells(notebook: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def output_texts(notebook: dict[str, Any]) -> list[str]:
    """Every stored output as text: streams, errors and each mimetype's data."""
    texts = []
    for cell in code_cells(notebook):
        for output in cell.get("outputs", []):
            if output["output_type"] == "stream":
                texts.append("".join(output["text"]))
            elif output["output_type"] == "error":
                texts.append(f"{output['ename']}: {output['evalue']}")
            else:
                for data in output.get("data", {}).values():
                    texts.append(data if isinstance(data, str) else json.dumps(data))
    return texts


def test_the_notebooks_are_there() -> None:
    names = [p.stem for p in NOTEBOOK_PATHS]
    for prefix in ("01_", "02_", "03_", "04_", "05_", "06_"):
        assert any(n.startswith(prefix) for n in names), f"no notebook {prefix}*.ipynb"


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=[p.name for p in NOTEBOOK_PATHS])
def test_saved_after_one_clean_run_from_the_top(path: Path) -> None:
    notebook = load(path)
    assert notebook["metadata"].get("kernelspec", {}).get("name") == "python3"
    cells = code_cells(notebook)
    # Counts 1, 2, 3 ...: every cell ran, once, in order, in one kernel.
    assert [c.get("execution_count") for c in cells] == list(range(1, len(cells) + 1))
    for number, cell in enumerate(cells, 1):
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error", (
                f"code cell {number} stored an error: {output.get('ename')}: {output.get('evalue')}"
            )
            # Warnings name the file that raised them: a path of the machine that ran it.
            assert output.get("name") != "stderr", (
                f"code cell {number} stored stderr output: {''.join(output['text'])[:200]!r}"
            )


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=[p.name for p in NOTEBOOK_PATHS])
def test_outputs_hold_nothing_specific_to_one_machine(path: Path) -> None:
    texts = output_texts(load(path))
    for what, pattern in MACHINE_SPECIFIC.items():
        found = [t for t in texts if re.search(pattern, t)]
        assert not found, f"an output shows {what}: {found[0][:200]!r}"
    keys = [m.group(0) for t in texts for m in KEY_LIKE.finditer(t)]
    assert not keys, f"an output shows something like an API key: {keys[0][:12]}..."


def test_cassettes_are_valid_and_hold_no_key() -> None:
    cassettes = sorted(p for p in CASSETTES.glob("*.jsonl") if not p.name.startswith("my_"))
    assert cassettes, "no cassette in notebooks/cassettes"
    for cassette in cassettes:
        text = cassette.read_text(encoding="utf-8")
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert records, f"{cassette.name} is empty"
        assert all(r["format"] == 1 for r in records)
        assert not KEY_LIKE.search(text), f"{cassette.name} holds something like an API key"
        assert "api_key" not in text.lower()


def _comparable(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Records without call timings, and without the built-in system prompt and tool
    schemas, which the notebook's replay ignores too (they change with the library)."""
    for record in records:
        record["response"].pop("duration_ms", None)
        record["request"].pop("system", None)
        record["request"].pop("tools", None)
    return records


def test_the_providers_cassette_is_what_its_recipe_records(tmp_path: Path) -> None:
    # The recipe records from the local stand-in server of tests/providers; recording
    # again must give the committed cassette's conversation, usage and streamed pieces.
    recipe_path = CASSETTES / "record_providers.py"
    spec = importlib.util.spec_from_file_location("record_providers", recipe_path)
    assert spec is not None and spec.loader is not None
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    fresh = tmp_path / "providers.jsonl"

    recipe.main(fresh)

    committed = (CASSETTES / "providers.jsonl").read_text(encoding="utf-8")
    assert recipe.STAND_IN_KEY not in fresh.read_text(encoding="utf-8")
    assert _comparable([json.loads(x) for x in fresh.read_text().splitlines()]) == (
        _comparable([json.loads(x) for x in committed.splitlines()])
    )
