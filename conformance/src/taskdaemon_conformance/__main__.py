"""`python -m taskdaemon_conformance` is the `taskdaemon-conformance` command."""

from __future__ import annotations

from taskdaemon_conformance.cli import main

raise SystemExit(main())
