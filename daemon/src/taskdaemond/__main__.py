"""`python -m taskdaemond` is the `taskdaemond` command."""

from taskdaemond.launch import main

main()
