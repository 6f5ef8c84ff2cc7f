"""The handlers the harness can start, and where the cases are.

The bundled SDKs' conformance handlers (as local processes or container images) and any command
given on the command line. The cases ship inside the package (the wheel carries
conformance/cases/ as taskdaemon_conformance/cases/); an editable install reads them from the
checkout it was installed from.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from importlib import resources
from pathlib import Path

from taskdaemon_conformance.replay import Target

#: The bundled SDKs, in matrix order.
SDKS = ("python", "ruby", "typescript")
#: Container engines `--engine` accepts.
ENGINES = ("podman", "docker")


class TargetError(ValueError):
    """A target cannot be set up; the message says what is missing and how to fix it."""


def conformance_dir() -> Path:
    """The conformance/ directory of the repository this package was installed from (editable).

    For an installed wheel this is no checkout at all; `checkout_dir` says whether it is one.
    """
    return Path(__file__).resolve().parents[2]


def repository_dir() -> Path:
    """The repository's root (the parent of conformance/)."""
    return conformance_dir().parent


def checkout_dir() -> Path | None:
    """The TaskDaemon checkout this package runs from (an editable install), or None."""
    root = repository_dir()
    return root if (root / "conformance" / "handlers").is_dir() else None


def default_cases_dir() -> Path:
    """The cases shipped in the package, else (editable install) the checkout's conformance/cases."""
    packaged = Path(str(resources.files("taskdaemon_conformance") / "cases"))
    if packaged.is_dir():
        return packaged
    return conformance_dir() / "cases"


def image_name(sdk: str) -> str:
    """The tag images/build.sh gives the conformance handler image of `sdk`."""
    return f"localhost/taskdaemon-conformance-{sdk}:dev"


def engine_argv(engine: str, image: str) -> tuple[str, ...]:
    """The argv that runs `image` as a handler: stdin kept open, container removed at exit.

    No network: a conformance handler needs none, and setting one up is about half of a
    container's start-up time.
    """
    if engine not in ENGINES:
        raise TargetError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return (engine, "run", "-i", "--rm", "--network=none", image)


def resolve_checkout(checkout: Path | None) -> Path:
    """The checkout --sdk runs from: the one given, else the one this package is installed from."""
    if checkout is None:
        found = checkout_dir()
        if found is None:
            raise TargetError(
                "--sdk runs the SDKs' conformance handlers from a TaskDaemon checkout "
                "(conformance/handlers/<sdk>, sdks/), and this taskdaemon-conformance is installed "
                f"from a package ({Path(__file__).resolve().parent}), not from a checkout: pass "
                "--checkout DIR (a clone of the TaskDaemon repository, after `make setup` there), "
                "or test your own handler with --command"
            )
        return found
    if not (checkout / "conformance" / "handlers").is_dir():
        raise TargetError(
            f"--checkout {checkout}: no conformance/handlers/ there; give the root of a TaskDaemon checkout"
        )
    return checkout.resolve()


def sdk_target(sdk: str, engine: str | None = None, checkout: Path | None = None) -> Target:
    """The conformance handler of a bundled SDK, as a local process or (with `engine`) an image.

    A local process runs from `checkout` (default: the checkout this package is installed from).
    """
    if sdk not in SDKS:
        raise TargetError(f"unknown SDK {sdk!r}; choose one of {', '.join(SDKS)} or all")
    if engine is not None:
        return Target(sdk, engine_argv(engine, image_name(sdk)))
    root = resolve_checkout(checkout)
    handlers = root / "conformance" / "handlers" / sdk
    if not handlers.is_dir():
        raise TargetError(f"{handlers} is missing: --sdk needs the repository's conformance/ directory")
    if sdk == "python":
        return Target(sdk, (sys.executable, "-u", "handler.py"), cwd=handlers)
    if sdk == "ruby":
        lib = root / "sdks" / "ruby" / "lib"
        return Target(sdk, (_tool("ruby"), "-I", str(lib), "handler.rb"), cwd=handlers)
    if not (handlers / "node_modules" / "taskdaemon").exists():
        raise TargetError(
            f"{handlers}/node_modules/taskdaemon is missing: run `npm ci --offline --no-audit --no-fund` "
            f"in {handlers} (and build sdks/typescript)"
        )
    return Target(sdk, (_tool("node"), "handler.mjs"), cwd=handlers)


def sdk_target_or_unavailable(sdk: str, engine: str | None = None, checkout: Path | None = None) -> Target:
    """Like sdk_target, but a target that cannot be set up fails its cases instead of the run."""
    try:
        return sdk_target(sdk, engine, checkout)
    except TargetError as exc:
        return Target(sdk, (), unavailable=str(exc))


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise TargetError(f"`{name}` is not on PATH")
    return found


def command_target(command: str, name: str | None = None) -> Target:
    """A handler given as a shell-style command line (split with shlex, run without a shell)."""
    argv = tuple(shlex.split(command))
    if not argv:
        raise TargetError("--command is empty")
    return Target(name or command, argv)


def image_target(engine: str, image: str) -> Target:
    """A handler image run with `engine`."""
    return Target(image, engine_argv(engine, image))
