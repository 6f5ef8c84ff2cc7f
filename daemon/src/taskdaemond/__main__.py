"""`python -m taskdaemond` is the `taskdaemond` command."""

from taskdaemond.cli import main

main()
