"""Skills: listed by name and description, read on demand under /skills/, never written."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from deepagents_nb import (
    AgentStateSnapshot,
    ConfigurableAgentBuilder,
    ConfigurationError,
    DeepAgent,
    Message,
    Middleware,
    ToolCall,
    create_deep_agent,
)
from deepagents_nb.context import RunContext, ToolContext
from deepagents_nb.exceptions import MissingDependencyError
from deepagents_nb.middleware.fs_backends import (
    FileToolError,
    NotTextError,
    StateBackend,
    read_window,
)
from deepagents_nb.middleware.memory import MemoryMiddleware
from deepagents_nb.middleware.routes import (
    ReadOnlyBackend,
    RoutedBackend,
    file_routes_of,
    relocated,
    with_routes,
)
from deepagents_nb.middleware.skills import SkillsMiddleware, load_skills
from deepagents_nb.models.testing import ScriptedModel

PDF_BODY = "# PDF forms\n\nRun scripts/fill.py with the form and the values.\n"


def make_agent(model: ScriptedModel, *middleware: Middleware, **kwargs: Any) -> DeepAgent:
    """`create_deep_agent(model=..., middleware=[...])`, as a user writes it."""
    return create_deep_agent(model=model, middleware=list(middleware), **kwargs)


def write_skill(root: Path, folder: str, front: str, body: str = PDF_BODY) -> Path:
    (root / folder).mkdir(parents=True, exist_ok=True)
    path = root / folder / "SKILL.md"
    path.write_text(f"---\n{front}---\n{body}")
    return path


@pytest.fixture
def skills_dir(tmp_path: Path) -> Path:
    root = tmp_path / "skills"
    write_skill(
        root,
        "pdf-forms",
        "name: pdf-forms\ndescription: >\n  Fill in PDF forms.\n"
        "  Use when the user sends a PDF form.\nlicense: MIT\n",
    )
    (root / "pdf-forms" / "scripts").mkdir()
    (root / "pdf-forms" / "scripts" / "fill.py").write_text("print('filled')\n")
    (root / "pdf-forms" / "REFERENCE.md").write_text("Field names are case-sensitive.\n")
    write_skill(root, "haiku", "name: haiku\ndescription: Write haiku.\n", "Five, seven, five.\n")
    (root / "notes").mkdir()  # no SKILL.md: not a skill
    (root / "notes" / "todo.md").write_text("later")
    return root


def tool_results(agent: DeepAgent) -> list[Message]:
    return [m for m in agent.get_state().messages if m.role == "tool"]


def test_the_prompt_lists_names_and_descriptions_and_the_body_is_read_on_demand(
    skills_dir: Path, tmp_path: Path
) -> None:
    """Done-when of issue 22: memory text and skill descriptions, not bodies, in the
    prompt; the model reads a skill's body when it needs it."""
    (tmp_path / "AGENTS.md").write_text("The user prefers short answers.")
    model = ScriptedModel(
        [
            ToolCall(name="read_file", args={"file_path": "/skills/pdf-forms/SKILL.md"}),
            "Done.",
        ]
    )
    agent = make_agent(
        model, MemoryMiddleware(tmp_path / "AGENTS.md"), SkillsMiddleware(skills_dir)
    )

    agent.handle_message("Fill in this PDF form.")

    system = model.requests[0].system or ""
    assert "The user prefers short answers." in system
    assert "- haiku: Write haiku.\n" in system
    assert "- pdf-forms: Fill in PDF forms. Use when the user sends a PDF form." in system
    assert "Run scripts/fill.py" not in system and "Five, seven, five." not in system
    assert "notes" not in system.split("## Skills")[1]
    (body,) = tool_results(agent)
    assert not body.is_error
    assert "Run scripts/fill.py with the form and the values." in body.content
    assert "name: pdf-forms" in body.content  # the whole file, front matter included
    assert "Run scripts/fill.py" in model.requests[1].messages[-1].content


def test_a_skills_other_files_are_listed_and_readable(skills_dir: Path) -> None:
    model = ScriptedModel(
        [
            ToolCall(name="ls", args={"path": "/skills/pdf-forms"}),
            ToolCall(name="read_file", args={"file_path": "/skills/pdf-forms/scripts/fill.py"}),
            ToolCall(name="grep", args={"pattern": "case-sensitive", "path": "/skills"}),
            ToolCall(name="glob", args={"pattern": "/skills/*/SKILL.md"}),
            "done",
        ]
    )
    agent = make_agent(model, SkillsMiddleware([skills_dir]))

    agent.handle_message("look")

    listing, script, found, globbed = (m.content for m in tool_results(agent))
    assert listing.splitlines() == [
        "/skills/pdf-forms/REFERENCE.md",
        "/skills/pdf-forms/SKILL.md",
        "/skills/pdf-forms/scripts/fill.py",
    ]
    assert "print('filled')" in script
    assert found == "/skills/pdf-forms/REFERENCE.md"
    assert globbed.splitlines() == ["/skills/haiku/SKILL.md", "/skills/pdf-forms/SKILL.md"]


def test_skill_files_cannot_be_written(skills_dir: Path) -> None:
    model = ScriptedModel(
        [
            ToolCall(name="write_file", args={"file_path": "/skills/haiku/new.md", "content": "x"}),
            ToolCall(
                name="edit_file",
                args={
                    "file_path": "/skills/haiku/SKILL.md",
                    "old_string": "five",
                    "new_string": "six",
                },
            ),
            ToolCall(name="write_file", args={"file_path": "/skills/x.md", "content": "x"}),
            ToolCall(name="write_file", args={"file_path": "/skills", "content": "x"}),
            "done",
        ]
    )
    agent = make_agent(model, SkillsMiddleware(skills_dir))

    agent.handle_message("go")

    results = tool_results(agent)
    assert all(r.is_error for r in results)
    assert "/skills/haiku/new.md is read-only: skills cannot be changed" in results[0].content
    assert "/skills/haiku/SKILL.md is read-only" in results[1].content
    assert "/skills/x.md is read-only" in results[2].content
    assert "/skills is a directory" in results[3].content
    assert not (skills_dir / "haiku" / "new.md").exists()
    assert (skills_dir / "haiku" / "SKILL.md").read_text().endswith("Five, seven, five.\n")
    assert "/skills/haiku/new.md" not in agent.get_state().files


def test_errors_name_the_path_the_model_asked_for(skills_dir: Path) -> None:
    (skills_dir / "haiku" / "logo.bin").write_bytes(b"\xff\xfe\x00\x01")
    (skills_dir / "haiku" / "link.md").symlink_to(skills_dir / "pdf-forms" / "REFERENCE.md")
    model = ScriptedModel(
        [
            ToolCall(name="read_file", args={"file_path": "/skills/haiku/logo.bin"}),
            ToolCall(name="read_file", args={"file_path": "/skills/haiku/link.md"}),
            ToolCall(name="read_file", args={"file_path": "/skills/nope/SKILL.md"}),
            "done",
        ]
    )
    agent = make_agent(model, SkillsMiddleware(skills_dir))

    agent.handle_message("go")

    binary, link, missing = (m.content for m in tool_results(agent))
    assert "/skills/haiku/logo.bin is not UTF-8 text" in binary
    assert "/skills/haiku/link.md is a symbolic link" in link
    assert "'/skills/nope/SKILL.md' not found" in missing


def test_one_skills_folder_may_be_given_itself(skills_dir: Path) -> None:
    (skill,) = load_skills(skills_dir / "haiku")

    assert (skill.name, skill.description, skill.path) == (
        "haiku",
        "Write haiku.",
        "/skills/haiku/SKILL.md",
    )
    assert [s.name for s in load_skills([skills_dir, skills_dir / "haiku"])] == [
        "haiku",
        "pdf-forms",
    ]
    assert load_skills(skills_dir)[1].front_matter["license"] == "MIT"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("# PDF\nNo front matter.\n", "does not start with YAML front matter"),
        ("", "does not start with YAML front matter"),
        ("---\nname: bad\ndescription: never closed\n", "no closing '---'"),
        ("---\n- a\n- b\n---\nbody", "must be YAML keys and values"),
        ("---\n---\nbody", "must be YAML keys and values"),
        ("---\ndescription: Does things.\n---\n", "has no name"),
        ("---\nname: bad\n---\n", "has no description"),
        ("---\nname: bad\ndescription: ''\n---\n", "description must be text"),
        ("---\nname: bad\ndescription: [1]\n---\n", "description must be text"),
        ("---\nname: Bad\ndescription: x\n---\n", "lowercase letters"),
        ("---\nname: bad--name\ndescription: x\n---\n", "lowercase letters"),
        ("---\nname: 7\ndescription: x\n---\n", "lowercase letters"),
        ("---\nname: other\ndescription: x\n---\n", "differs from its folder's name 'bad'"),
        ("---\nname: bad\ndescription: " + "x" * 1025 + "\n---\n", "over the 1024"),
        ("---\nname: bad\ndescription: a: b\n---\n", "not valid YAML (line 3): mapping"),
    ],
)
def test_a_bad_skill_is_an_error_naming_its_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "SKILL.md").write_text(content)

    with pytest.raises(ConfigurationError) as error:
        SkillsMiddleware(tmp_path)

    assert str(tmp_path / "bad" / "SKILL.md") in str(error.value)
    assert problem in str(error.value)


def test_unreadable_or_linked_skill_files_are_errors_naming_them(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "SKILL.md").write_bytes(b"---\nname: bad\ndescription: \xff\n---\n")
    with pytest.raises(ConfigurationError, match=r"bad/SKILL\.md: it is not UTF-8 text"):
        SkillsMiddleware(tmp_path)

    (tmp_path / "bad" / "SKILL.md").unlink()
    (tmp_path / "real.md").write_text("---\nname: bad\ndescription: x\n---\n")
    (tmp_path / "bad" / "SKILL.md").symlink_to(tmp_path / "real.md")
    with pytest.raises(ConfigurationError, match=r"bad/SKILL\.md: it is a symbolic link"):
        SkillsMiddleware(tmp_path)


def test_two_skills_with_one_name_are_an_error_naming_both_files(tmp_path: Path) -> None:
    first = write_skill(tmp_path / "team", "pdf", "name: pdf\ndescription: Team PDFs.\n")
    second = write_skill(tmp_path / "mine", "pdf", "name: pdf\ndescription: My PDFs.\n")

    with pytest.raises(ConfigurationError) as error:
        SkillsMiddleware([tmp_path / "team", tmp_path / "mine"])

    assert f"two skills are named 'pdf': {first} and {second}" in str(error.value)


def test_a_missing_skills_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"skills folder .*nowhere does not exist"):
        SkillsMiddleware(tmp_path / "nowhere")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError, match="is not a folder"):
        SkillsMiddleware(str(tmp_path / "file"))


def test_without_skills_there_is_no_section(tmp_path: Path) -> None:
    middleware = SkillsMiddleware(tmp_path)

    assert middleware.skills == ()
    assert middleware.system_prompt() is None


def test_pyyaml_is_needed_for_front_matter(
    skills_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)

    with pytest.raises(MissingDependencyError, match=r"deepagents-nb\[skills\]"):
        SkillsMiddleware(skills_dir)


# ----- routes: the seam behind /skills/ and /memories/ -------------------------------------


def _ctx() -> ToolContext:
    run = RunContext("t", "r", "a", AgentStateSnapshot(), lambda e: None, ScriptedModel([]))
    return ToolContext(run=run, call_id="c")


class DictBackend:
    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    async def list_files(self, ctx: ToolContext) -> list[str]:
        return sorted(self.files)

    async def read(self, ctx: ToolContext, path: str) -> str | None:
        return self.files.get(path)

    async def write(self, ctx: ToolContext, path: str, content: str) -> None:
        self.files[path] = content


async def test_a_route_hides_the_inner_files_under_it_and_keeps_the_others() -> None:
    ctx = _ctx()
    routed = DictBackend({"/new.csv": "a,b"})
    backend = RoutedBackend(
        DictBackend({"/notes.md": "mine", "/data/old.csv": "hidden"}), {"data/": routed}
    )

    assert await backend.list_files(ctx) == ["/data/new.csv", "/notes.md"]
    assert await backend.read(ctx, "/data/new.csv") == "a,b"
    assert await backend.read(ctx, "/data/old.csv") is None
    assert await backend.read(ctx, "/data") is None
    assert await backend.read(ctx, "/database.md") is None  # not under /data
    window = await read_window(backend, ctx, "/data/new.csv", 0, 5)
    assert window is not None and window.lines == ["a,b"]
    await backend.write(ctx, "/data/more.csv", "c")
    await backend.write(ctx, "/top.md", "t")
    assert routed.files["/more.csv"] == "c"
    assert await backend.read(ctx, "/top.md") == "t"


def test_routes_must_be_directories_that_do_not_overlap() -> None:
    backend = StateBackend()
    with pytest.raises(ConfigurationError, match="root"):
        RoutedBackend(backend, {"/": backend})
    with pytest.raises(ConfigurationError, match="/a/b lies inside the route /a"):
        RoutedBackend(backend, {"/a": backend, "/a/b": backend})
    with pytest.raises(ConfigurationError, match="two routes are given for /a"):
        RoutedBackend(backend, {"/a": backend, "a/": backend})
    with pytest.raises(ConfigurationError, match="bad route"):
        RoutedBackend(backend, {"/../x": backend})
    assert with_routes(backend, {}) is backend


def test_two_middleware_cannot_claim_one_directory(skills_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="both add the directory /skills"):
        file_routes_of([SkillsMiddleware(skills_dir), SkillsMiddleware(skills_dir)])


async def test_read_only_backends_refuse_writes_and_pass_reads() -> None:
    ctx = _ctx()
    inner = StateBackend()
    await inner.write(ctx, "/a.md", "text")
    backend = ReadOnlyBackend(inner, "ask the user.")

    assert await backend.read(ctx, "/a.md") == "text"
    assert await backend.list_files(ctx) == ["/a.md"]
    assert await backend.read_bytes(ctx, "/a.md") is None
    with pytest.raises(FileToolError, match=r"^/a\.md is read-only: ask the user\.$"):
        await backend.write(ctx, "/a.md", "x")


def test_relocated_errors_keep_their_kind_and_rewrite_whole_paths_only() -> None:
    error = relocated(NotTextError("/pdf/a.md is not UTF-8 text."), "/pdf/a.md", "/s/pdf/a.md")
    assert isinstance(error, NotTextError)
    assert str(error) == "/s/pdf/a.md is not UTF-8 text."
    folder = relocated(FileToolError("/pdf: a file, not a directory."), "/pdf/a.md", "/s/pdf/a.md")
    assert str(folder) == "/s/pdf: a file, not a directory."
    untouched = FileToolError("and/or /pdfx /x/pdf/a.md")
    assert relocated(untouched, "/pdf/a.md", "/s/pdf/a.md") is untouched
    renamed = relocated(FileToolError("/AGENTS.md: denied."), "/AGENTS.md", "/memories/user.md")
    assert str(renamed) == "/memories/user.md: denied."


async def test_images_in_a_skill_are_read_as_images(skills_dir: Path) -> None:
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
        b"\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00"
        b"\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    (skills_dir / "haiku" / "logo.png").write_bytes(png)
    backend = RoutedBackend(StateBackend(), SkillsMiddleware(skills_dir).file_routes())

    assert await backend.read_bytes(_ctx(), "/skills/haiku/logo.png") == png
    assert await backend.read_bytes(_ctx(), "/notes.png") is None


def test_the_skills_keyword_and_builder_method(skills_dir: Path) -> None:
    model = ScriptedModel(["ok", "ok"])
    keyword: Any = {"skills": [skills_dir]}
    create_deep_agent(model=model, **keyword).handle_message("hi")
    builder: Any = ConfigurableAgentBuilder().with_model(model)
    builder.with_skills(skills_dir).build().handle_message("hi")

    assert all("- haiku: Write haiku." in (r.system or "") for r in model.requests)
