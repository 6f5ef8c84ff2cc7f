"""``taskdaemond new handler NAME --language LANG``: a handler project to start from.

Each language's files are in ``scaffold_templates/<language>/`` (package data): a ``.tmpl`` file
is rendered with Jinja2 (the suffix dropped, ``gitignore`` becoming ``.gitignore``), any other
file is copied as it is (the Go runtime, a copy of ``examples/go/taskdaemon`` kept identical by a
test). The project holds a small working handler (a greeting that logs and reports progress), a
test with the SDK's testing helper, a Containerfile taking ``ARG BASE``, and a README; the
command prints the ``handlers.toml`` entry to add.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

#: A task type, as handlers.toml's schema allows it (``[handlers.<task_type>]``).
TASK_TYPE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$")


@dataclass(frozen=True, slots=True)
class Language:
    """How a generated project of one language is run: as a process and in an image."""

    command: tuple[str, ...]
    image_suffix: str


#: The languages ``new handler`` writes, and the command handlers.toml runs each with.
LANGUAGES = {
    "python": Language(("python3", "-u", "handler.py"), "python"),
    "ruby": Language(("ruby", "handler.rb"), "ruby"),
    "typescript": Language(("node", "handler.mjs"), "node"),
    "go": Language(("bin/handler",), "go"),
}

TEMPLATE_SUFFIX = ".tmpl"


class ScaffoldError(Exception):
    """Raised when a project cannot be written: a bad name, or a directory already in use."""


def check_name(name: str) -> None:
    """Raise ScaffoldError unless ``name`` is a valid task type."""
    if not TASK_TYPE.match(name):
        msg = (
            f"{name!r} is not a valid task type: 1-128 characters, letters, digits and _ . : -, "
            "not starting with . : or -"
        )
        raise ScaffoldError(msg)


def check_directory(directory: Path) -> None:
    """Raise ScaffoldError when ``directory`` is a file or a directory with anything in it."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        msg = f"{directory} already exists and is not an empty directory: choose another with --dir"
        raise ScaffoldError(msg)


def _quoted(name: str) -> str:
    """A TOML key: bare when it can be, else a quoted string."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def toml_entry(name: str, language: str, directory: Path | None = None, image: bool = False) -> str:
    """The ``[handlers.<name>]`` table that runs the project, as a process (in ``directory``,
    relative to the handlers.toml) or as its image."""
    spec = LANGUAGES[language]
    lines = [f"[handlers.{_quoted(name)}]"]
    if image:
        lines.append(f'image = "{image_name(name, language)}"')
    else:
        lines.append("command = [" + ", ".join(json.dumps(part) for part in spec.command) + "]")
        lines.append(f"cwd = {json.dumps((directory or Path('.')).as_posix())}")
    lines.append("instances = 2")
    return "\n".join(lines) + "\n"


def image_name(name: str, language: str) -> str:
    """The local image tag the README builds."""
    slug = re.sub(r"[^a-z0-9_.-]", "-", name.lower()).strip(".-") or "handler"
    return f"localhost/{slug}-{LANGUAGES[language].image_suffix}:dev"


def _files(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in sorted(root.iterdir(), key=lambda item: item.name):
        path = f"{prefix}{entry.name}"
        if entry.is_dir():
            found += _files(entry, f"{path}/")
        elif entry.name != "__pycache__":
            found.append((path, entry))
    return found


def generate(name: str, language: str, directory: Path, *, sdk_path: Path | None = None) -> list[Path]:
    """Write the project for ``name`` in ``language`` into ``directory``; the files written.

    ``sdk_path`` (TypeScript only) makes the project depend on an SDK checkout (``file:``)
    instead of the published package."""
    check_name(name)
    if language not in LANGUAGES:
        msg = f"unknown language {language!r}: choose one of {', '.join(LANGUAGES)}"
        raise ScaffoldError(msg)
    check_directory(directory)
    import jinja2  # noqa: PLC0415 - only this command needs it, not every `taskdaemond` run

    # Source code, not HTML: nothing to escape.
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701
    )
    context = {
        "name": name,
        "image": image_name(name, language),
        "package": re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-") or "handler",
        "npm_dependency": f"file:{sdk_path.resolve().as_posix()}" if sdk_path else "^0.1.0",
        "toml_local": f"```toml\n{toml_entry(name, language, Path('path/to/this/directory'))}```\n",
        "toml_image": f"```toml\n{toml_entry(name, language, image=True)}```",
    }
    root = resources.files("taskdaemond") / "scaffold_templates" / language
    written: list[Path] = []
    directory.mkdir(parents=True, exist_ok=True)
    for relative, source in _files(root):
        text = source.read_text(encoding="utf-8")
        path = relative.removesuffix(TEMPLATE_SUFFIX)
        if path != relative:
            text = environment.from_string(text).render(context)
        if path.rsplit("/", 1)[-1] == "gitignore":
            path = path.removesuffix("gitignore") + ".gitignore"
        target = directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def cmd_new(args: argparse.Namespace) -> int:
    """``taskdaemond new handler NAME``: write the project, print what to add to handlers.toml."""
    directory = Path(args.dir) if args.dir else Path(args.name)
    try:
        generate(args.name, args.language, directory, sdk_path=Path(args.sdk) if args.sdk else None)
    except ScaffoldError as exc:
        print(f"taskdaemond: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote a {args.language} handler for task type {args.name!r} in {directory}/ (see its README.md).")
    print("Add this to handlers.toml (cwd is relative to the file's directory):\n")
    print(toml_entry(args.name, args.language, directory), end="")
    return 0


def add_commands(commands: Any) -> None:
    """The ``new`` command group on the CLI's subparsers."""
    new = commands.add_parser("new", help="write a new project", description="Write a new project.")
    kinds = new.add_subparsers(dest="kind", required=True, metavar="KIND")
    handler = kinds.add_parser(
        "handler",
        help="a handler project: the handler, its test, a Containerfile, a README",
        description="Write a handler project for task type NAME: a small working handler, a test "
        "with the SDK's testing helper, a Containerfile (ARG BASE) and a README; print the "
        "handlers.toml entry. Refuses a directory that is not empty (exit 2).",
    )
    handler.add_argument("name", metavar="NAME", help="the task type the handler serves")
    handler.add_argument("--language", required=True, choices=list(LANGUAGES))
    handler.add_argument("--dir", help="where to write it (default: ./NAME); must be empty or absent")
    handler.add_argument("--sdk", help=argparse.SUPPRESS)  # typescript: depend on an SDK checkout (file:)
    handler.set_defaults(run=cmd_new)
