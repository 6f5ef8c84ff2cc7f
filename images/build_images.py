"""Entry point of images/build.sh (stdlib only): see imagebuild/cli.py."""

import sys

from imagebuild.cli import main

if __name__ == "__main__":
    sys.exit(main())
