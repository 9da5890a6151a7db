"""Skills: folders of instructions the agent reads only when a task calls for them.

    skills = SkillsMiddleware(["skills/"])
    agent = create_deep_agent(model=..., middleware=[skills])

A skill is a folder holding a `SKILL.md` in the Agent Skills format: YAML front
matter with `name` (the folder's name) and `description`, then the Markdown
instructions. The system prompt lists each skill by name and description only;
its files are readable, never writable, under `/skills/<name>/`, so the model
reads a skill's body (its `SKILL.md` first) only when it needs it. A bad skill
is refused when the agent is built, with an error naming its file.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from deepagents_nb.exceptions import ConfigurationError, MissingDependencyError
from deepagents_nb.middleware.base import Middleware
from deepagents_nb.middleware.directory_backend import DirectoryBackend
from deepagents_nb.middleware.fs_backends import FileBackend
from deepagents_nb.middleware.routes import ReadOnlyBackend, RoutedBackend

SKILLS_DIR = "/skills"
MAX_NAME_CHARS = 64
MAX_DESCRIPTION_CHARS = 1024
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")

SkillSource: TypeAlias = "str | os.PathLike[str]"

SKILLS_PROMPT = """## Skills

Skills are instructions for particular kinds of task, each in a read-only folder
/skills/<name>/. Only their names and descriptions are listed here. When a task
matches a skill, read its /skills/<name>/SKILL.md with read_file before you start,
and follow it; it may point to other files in its folder (ls /skills/<name>),
which you read only when you need them."""


@dataclass(frozen=True)
class Skill:
    """One skill: its name, its description and the folder that holds its files."""

    name: str
    description: str
    folder: Path
    front_matter: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """Every field of the front matter, for the optional ones (`license`, `metadata`, ...)."""

    @property
    def path(self) -> str:
        """Where the agent reads the skill's instructions."""
        return f"{SKILLS_DIR}/{self.name}/SKILL.md"


def load_skills(sources: SkillSource | Iterable[SkillSource]) -> list[Skill]:
    """The skills in `sources`: each a folder of skill folders, or one skill's folder.

    A folder counts as a skill when it holds a `SKILL.md`; others are skipped.

    Raises:
        ConfigurationError: a source that is not a folder, a `SKILL.md` without
            valid front matter (naming the file), or two skills with one name.
        MissingDependencyError: PyYAML is not installed.
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    skills: dict[str, Skill] = {}
    seen: set[Path] = set()
    for source in sources:
        for folder in _skill_folders(source):
            if folder.resolve() in seen:
                continue  # the same folder through two sources
            seen.add(folder.resolve())
            skill = read_skill(folder)
            if skill.name in skills:
                first = skills[skill.name].folder / "SKILL.md"
                raise ConfigurationError(
                    f"two skills are named {skill.name!r}: {first} and "
                    f"{skill.folder / 'SKILL.md'}; skill names must be unique"
                )
            skills[skill.name] = skill
    return list(skills.values())


def _skill_folders(source: SkillSource) -> list[Path]:
    root = Path(source).expanduser().absolute()
    if not root.is_dir():
        problem = "is not a folder" if root.exists() else "does not exist"
        raise ConfigurationError(f"skills folder {source} {problem}")
    if os.path.lexists(root / "SKILL.md"):
        return [root]
    return sorted(
        child
        for child in root.iterdir()
        if not child.name.startswith(".") and child.is_dir() and os.path.lexists(child / "SKILL.md")
    )


def read_skill(folder: Path) -> Skill:
    """The skill whose `SKILL.md` is in `folder`, checked against the Agent Skills format.

    Raises:
        ConfigurationError: naming the file and what is wrong with it.
    """
    file = folder / "SKILL.md"
    if file.is_symlink():
        raise _bad(file, "it is a symbolic link; a skill's files are read without following links")
    if not file.is_file():
        raise _bad(file, "it is not a regular file")
    front = _front_matter(file)
    name = front.get("name")
    if name is None:
        raise _bad(file, "its front matter has no name (name: the skill folder's name)")
    if not isinstance(name, str) or len(name) > MAX_NAME_CHARS or not _NAME.match(name):
        raise _bad(
            file,
            f"its name {name!r} must be 1 to {MAX_NAME_CHARS} lowercase letters, digits and "
            f"single hyphens, such as 'pdf-forms'",
        )
    expected = folder.name or folder.resolve().name
    if name != expected:
        raise _bad(
            file,
            f"its name {name!r} differs from its folder's name {expected!r}; the Agent Skills "
            f"format requires them to be the same",
        )
    description = front.get("description")
    if description is None:
        raise _bad(
            file,
            "its front matter has no description (description: what the skill does and when "
            "to use it)",
        )
    if not isinstance(description, str) or not description.strip():
        raise _bad(file, f"its description must be text, got {description!r}")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise _bad(
            file,
            f"its description has {len(description)} characters, over the "
            f"{MAX_DESCRIPTION_CHARS} the Agent Skills format allows",
        )
    return Skill(name, description.strip(), folder, dict(front))


def _front_matter(file: Path) -> dict[str, Any]:
    """The YAML between the `---` lines that open `file`; the body is not read."""
    lines: list[str] = []
    try:
        with file.open(encoding="utf-8") as f:
            if f.readline().removeprefix("\ufeff").rstrip() != "---":
                raise _bad(
                    file,
                    "it does not start with YAML front matter: a line '---', then name: and "
                    "description:, then '---'",
                )
            for line in f:
                if line.rstrip() == "---":
                    break
                lines.append(line)
            else:
                raise _bad(file, "its front matter has no closing '---' line")
    except UnicodeDecodeError:
        raise _bad(file, "it is not UTF-8 text") from None
    except OSError as exc:
        raise _bad(file, f"it cannot be read ({exc.strerror or type(exc).__name__})") from None
    yaml = _yaml()
    try:
        data = yaml.safe_load("".join(lines))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "it cannot be parsed"
        raise _bad(file, f"its front matter is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise _bad(
            file, "its front matter must be YAML keys and values (name: ..., description: ...)"
        )
    return data


def _yaml() -> Any:
    try:
        return importlib.import_module("yaml")
    except ImportError:
        raise MissingDependencyError(
            "Skills (the YAML front matter of SKILL.md)", "skills"
        ) from None


def _bad(file: Path, problem: str) -> ConfigurationError:
    return ConfigurationError(f"skill {file}: {problem}")


def skills_prompt(skills: Iterable[Skill]) -> str | None:
    """The system-prompt section listing `skills` by name and description; None if none."""
    listed = [f"- {s.name}: {' '.join(s.description.split())}" for s in skills]
    return "\n\n".join([SKILLS_PROMPT, "\n".join(listed)]) if listed else None


class SkillsMiddleware(Middleware):
    """Lists skills in the system prompt and serves their files read-only under `/skills/`.

    Args:
        sources: A folder or a list of folders, each holding skill folders (or being
            one). The skills are read when the middleware is made; their files are
            read from disk each time the agent opens one.
    """

    name = "skills"

    def __init__(self, sources: SkillSource | Iterable[SkillSource]) -> None:
        self.skills = tuple(load_skills(sources))
        folders: dict[str, FileBackend] = {
            f"/{s.name}": DirectoryBackend(s.folder, create=False) for s in self.skills
        }
        self.backend = ReadOnlyBackend(
            RoutedBackend(None, folders),
            f"skills cannot be changed; keep your own files outside {SKILLS_DIR}/.",
        )
        self._prompt = skills_prompt(self.skills)

    def __repr__(self) -> str:
        return f"SkillsMiddleware({[s.name for s in self.skills]})"

    def file_routes(self) -> Mapping[str, FileBackend]:
        """`/skills/`, where the agent reads the skills' files."""
        return {SKILLS_DIR: self.backend}

    def system_prompt(self) -> str | None:
        return self._prompt
