"""A stand-in for podman/docker: records each argv to $FAKE_ENGINE_LOG, and for `run` starts
the Python handler named by the image (its path), so the container lifecycle can be tested
where no container engine runs."""

import os
import subprocess
import sys

argv = sys.argv[1:]
with open(os.environ["FAKE_ENGINE_LOG"], "a") as log:
    log.write(" ".join(argv) + "\n")
if argv and argv[0] == "run":
    image = argv[-1]
    env = dict(os.environ)
    rest = argv[1:-1]
    for i, arg in enumerate(rest):
        if arg == "-e":
            key, _, value = rest[i + 1].partition("=")
            env[key] = value
    sys.exit(subprocess.call([sys.executable, "-u", image], env=env))
