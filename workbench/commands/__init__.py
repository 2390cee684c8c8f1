"""Sub-commands of the ``workbench`` CLI, one module each (discovered by :mod:`workbench.cli`)."""
