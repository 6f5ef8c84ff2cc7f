"""Bad handler: exits with code 1 at once, before reading anything."""

import sys

sys.stderr.write("cannot start: missing configuration\n")
sys.exit(1)
