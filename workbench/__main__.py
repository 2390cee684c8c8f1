import sys

from workbench.cli import console

sys.exit(console())
