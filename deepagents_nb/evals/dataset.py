"""`Case` and `Dataset`: what an evaluation asks, and the answers it expects.

dataset = Dataset.from_dataframe(df, input="question", expected="answer", name="qa")
report = dataset.evaluate([agent_a, agent_b], scorers=[ExactMatch()])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deepagents_nb._sync import run_sync
from deepagents_nb.evals.records import from_rows
from deepagents_nb.evals.values import digest
from deepagents_nb.exceptions import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd

    from deepagents_nb.agent import DeepAgent
    from deepagents_nb.batch.progress import Progress
    from deepagents_nb.evals.report import EvalReport
    from deepagents_nb.output import OutputMode
    from deepagents_nb.tracking import Budget


@dataclass
class Case:
    """One question for the agents: its prompt, the answer expected (if any), a name
    (unique in its dataset; it names the row's thread) and free-form metadata."""

    input: str
    expected: Any = None
    name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.input, str):
            raise ConfigurationError(
                f"a case's input is the prompt sent to the agent, so it must be text, "
                f"not {type(self.input).__name__}: {self.input!r}"
            )
        if self.name is not None and not isinstance(self.name, str):
            self.name = str(self.name)
        if not isinstance(self.metadata, Mapping):
            raise ConfigurationError(f"a case's metadata must be a dict, not {self.metadata!r}")
        self.metadata = dict(self.metadata)


class Dataset:
    """Named cases to run agents on: `dataset.evaluate(agents, scorers=[...])`.

    Cases without a name are named by their position ("0", "1", ...). Names must be
    unique: each case's run is the thread `"{batch_id}/{case name}"`.

    Raises:
        ConfigurationError: no cases, two cases with one name, or an item that is
            not a `Case`, a dict of `Case` fields or a string (the input).
    """

    def __init__(self, cases: Iterable[Case | Mapping[str, Any] | str], name: str = "dataset"):
        if isinstance(cases, str | bytes | Mapping):
            raise ConfigurationError("Dataset takes a list of cases, not a single one")
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError(f"a dataset's name must be a non-empty string, not {name!r}")
        items = [_case(item) for item in cases]
        if not items:
            raise ConfigurationError(f"dataset {name!r} has no cases")
        named = []
        for position, case in enumerate(items):
            if case.name is None:
                case = Case(case.input, case.expected, str(position), case.metadata)
            named.append(case)
        counts = Counter(c.name for c in named)
        repeated = sorted(str(n) for n, count in counts.items() if count > 1)
        if repeated:
            raise ConfigurationError(
                f"dataset {name!r} has several cases named {', '.join(map(repr, repeated))}: "
                f"case names must be unique (each names its run's thread)"
            )
        self.name = name
        self.cases: tuple[Case, ...] = tuple(named)

    # ----- building ------------------------------------------------------------------------

    @classmethod
    def from_dataframe(
        cls,
        df: pd.DataFrame,
        input: str,
        expected: str | Sequence[str] | None = None,
        *,
        name: str = "dataset",
    ) -> Dataset:
        """Cases from a DataFrame's rows, named by its index labels.

        Args:
            df: One row per case.
            input: The column holding the prompt, or a template over the columns
                (`"Answer briefly: {question}"`).
            expected: The column holding the expected answer; several columns give
                a dict per case (for `FieldEquals` on structured outputs); None: none.
            name: The dataset's name.

        The other columns become each case's metadata (and columns of the report).
        """
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise ConfigurationError(f"from_dataframe takes a DataFrame, not {type(df).__name__}")
        if not df.index.is_unique:
            raise ConfigurationError(
                "the DataFrame's index has repeated labels, and the labels name the cases: "
                "make it unique (e.g. df.reset_index(drop=True))"
            )
        records = [{str(k): v for k, v in row.items()} for row in df.to_dict("records")]
        columns = [str(c) for c in df.columns]
        rows = from_rows(records, columns, input, expected)
        cases = [Case(p, e, str(label), m) for (p, e, m), label in zip(rows, df.index, strict=True)]
        return cls(cases, name=name)

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        input: str = "input",
        expected: str | Sequence[str] | None = "expected",
        *,
        name: str = "dataset",
    ) -> Dataset:
        """Cases from dicts, like `from_dataframe`'s rows; a `"name"` key names a case, and
        the `"expected"` key, when there is one, is the expected answer by default."""
        rows = [dict(r) for r in records]
        if not all(isinstance(r, Mapping) for r in rows):
            raise ConfigurationError("from_records takes a list of dicts")
        columns = list(dict.fromkeys(str(k) for r in rows for k in r))
        if expected == "expected" and "expected" not in columns:
            expected = None  # the default only applies when there is such a key
        names = [r.pop("name", None) for r in rows]
        made = from_rows(rows, [c for c in columns if c != "name"], input, expected)
        cases = [Case(p, e, n, m) for (p, e, m), n in zip(made, names, strict=True)]
        return cls(cases, name=name)

    # ----- reading -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.cases)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases)

    def __getitem__(self, key: int | str) -> Case:
        """A case by position or by name."""
        if isinstance(key, int):
            return self.cases[key]
        for case in self.cases:
            if case.name == key:
                return case
        raise KeyError(key)

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, {len(self.cases)} cases)"

    def _repr_html_(self) -> str:
        return f"<p><b>Dataset {self.name}</b>: {len(self)} cases</p>" + str(
            self.to_dataframe().to_html(max_rows=20)
        )

    def to_dataframe(self) -> pd.DataFrame:
        """One row per case (index: its name): input, expected, then the metadata."""
        import pandas as pd

        keys = list(dict.fromkeys(k for c in self.cases for k in c.metadata))
        frame: pd.DataFrame = pd.DataFrame.from_records(
            [
                {"input": c.input, "expected": c.expected, **{k: c.metadata.get(k) for k in keys}}
                for c in self.cases
            ],
            index=pd.Index([c.name for c in self.cases], name="case"),
            columns=["input", "expected", *(k for k in keys if k not in ("input", "expected"))],
        )
        return frame

    def fingerprint(self) -> str:
        """A digest of the cases' names and inputs: what the agents are asked (not the
        expected answers, so correcting one does not run the agents again)."""
        return digest(*(f"{c.name}\x1e{c.input}" for c in self.cases))

    # ----- evaluating ----------------------------------------------------------------------

    async def aevaluate(
        self,
        agents: DeepAgent | Sequence[DeepAgent] | Mapping[str, DeepAgent],
        scorers: Sequence[Any],
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
        concurrency: int = 8,
        budget: Budget | None = None,
        progress: bool | Progress = True,
        name: str | None = None,
    ) -> EvalReport:
        """Run every case on every agent and score the outputs (the async twin of
        `evaluate`)."""
        from deepagents_nb.evals.run import aevaluate

        return await aevaluate(
            self,
            agents,
            scorers,
            output_type=output_type,
            output_mode=output_mode,
            concurrency=concurrency,
            budget=budget,
            progress=progress,
            name=name,
        )

    def evaluate(
        self,
        agents: DeepAgent | Sequence[DeepAgent] | Mapping[str, DeepAgent],
        scorers: Sequence[Any],
        *,
        output_type: Any = None,
        output_mode: OutputMode | None = None,
        concurrency: int = 8,
        budget: Budget | None = None,
        progress: bool | Progress = True,
        name: str | None = None,
    ) -> EvalReport:
        """Run every case on every agent (through `agent.map`) and score the outputs.

        Args:
            agents: One agent, a list (labelled by `agent.name`, which must differ), or
                a dict of label -> agent.
            scorers: `ExactMatch()`, `Contains()`, `Regex(...)`, `FieldEquals(...)`,
                `Judge(model, rubric)`, or any function `(case, output) -> bool | float`.
            output_type: A structured output type for every agent's runs (default:
                each agent's own).
            concurrency: Rows (model calls) of one agent at once; also judge calls.
            budget: A `Budget` whose per-batch limits apply to each agent's batch.
            progress: As `agent.map`'s: a widget in a notebook, a bar in a script.
            name: The evaluation's name (default: the dataset's). Runs with the same
                name, dataset and agents share their rows' threads: running again skips
                the finished rows; a new name runs them afresh.

        Returns:
            An `EvalReport`: `.frame` has one row per case and agent; `.summary()`,
            `.chart()`, `.save(path)` and `.compare(other)` read it.
        """
        return run_sync(
            self.aevaluate(
                agents,
                scorers,
                output_type=output_type,
                output_mode=output_mode,
                concurrency=concurrency,
                budget=budget,
                progress=progress,
                name=name,
            )
        )


def _case(item: Case | Mapping[str, Any] | str) -> Case:
    if isinstance(item, Case):
        return Case(item.input, item.expected, item.name, dict(item.metadata))
    if isinstance(item, str):
        return Case(item)
    if isinstance(item, Mapping):
        unknown = set(item) - {"input", "expected", "name", "metadata"}
        if unknown or "input" not in item:
            raise ConfigurationError(
                f"a case given as a dict needs an 'input' key and may have 'expected', "
                f"'name' and 'metadata'; got keys {sorted(map(str, item))} (for other "
                f"columns, use Dataset.from_records)"
            )
        return Case(**{str(k): v for k, v in item.items()})
    raise ConfigurationError(
        f"a dataset holds Case objects, dicts of Case fields or strings, not {item!r}"
    )
