"""Label vocabulary shared by every reader, manifest and model.

The subtype order is RSNA 2019's (alphabetical); label volumes (synthetic, BHSD) use the integer
codes of :data:`SUBTYPE_CODES` (0 = background), which match BHSD's label values.
"""

from __future__ import annotations

SUBTYPES: tuple[str, ...] = (
    "epidural",
    "intraparenchymal",
    "intraventricular",
    "subarachnoid",
    "subdural",
)
"""The five ICH subtypes, in RSNA / BHSD order."""

LABEL_COLUMNS: tuple[str, ...] = ("any",) + SUBTYPES
"""Manifest label columns: ``any`` first, then the five subtypes."""

SUBTYPE_CODES: dict[str, int] = {name: i + 1 for i, name in enumerate(SUBTYPES)}
"""Integer code of each subtype in label volumes (0 = no hemorrhage)."""

# PhysioNet CT-ICH diagnosis CSV column for each subtype.
PHYSIONET_COLUMNS: dict[str, str] = {
    "epidural": "Epidural",
    "intraparenchymal": "Intraparenchymal",
    "intraventricular": "Intraventricular",
    "subarachnoid": "Subarachnoid",
    "subdural": "Subdural",
}
