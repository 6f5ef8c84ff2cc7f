"""The public surface: what `import taskdaemon` offers, and that the package ships its types."""

from __future__ import annotations

from importlib import metadata, resources

import taskdaemon
import taskdaemon.testing


def test_the_public_names_are_exported() -> None:
    assert sorted(taskdaemon.__all__) == sorted(
        [
            "LOG_LEVELS",
            "Error",
            "Handler",
            "HandlerFunction",
            "HandlerResult",
            "Success",
            "Task",
            "__version__",
            "run",
        ],
    )
    for name in taskdaemon.__all__:
        assert getattr(taskdaemon, name) is not None
    for name in taskdaemon.testing.__all__:
        assert getattr(taskdaemon.testing, name) is not None


def test_the_version_matches_the_distribution() -> None:
    assert taskdaemon.__version__ == metadata.version("taskdaemon")


def test_the_distribution_has_no_dependencies() -> None:
    requirements = metadata.requires("taskdaemon") or []
    assert [req for req in requirements if "extra ==" not in req] == []


def test_the_package_is_typed() -> None:
    assert resources.files("taskdaemon").joinpath("py.typed").is_file()
