import sys

from aecore.cli import run

sys.exit(run())
