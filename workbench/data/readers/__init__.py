"""Dataset readers. Importing this package registers every built-in reader in ``READERS``."""

from workbench.data.readers.base import READERS, ScanResult, Skipped, get_reader, make_row, register_reader

__all__ = ["READERS", "ScanResult", "Skipped", "get_reader", "make_row", "register_reader"]
