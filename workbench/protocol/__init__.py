"""The paper's K-fold evaluation protocol (HGI-SAM, Rasoulian et al., MELBA 2023, section 4): every
weak method and supervised baseline on subject-wise folds of one evaluation cohort, thresholds chosen
on the other folds, per-slice / per-fold / summary tables, resumable. Configs live in ``protocols/``;
``workbench evaluate --config protocols/synthetic.yaml``; guide: docs/guide/protocol.md. (The
papermill notebook grids are :mod:`workbench.studies`, a different thing.)

- :mod:`.config`: :class:`ProtocolConfig` (YAML), the methods (:data:`WEAK_METHODS`, :data:`BASELINE_METHODS`).
- :mod:`.run`: :func:`run_protocol`, :func:`load_protocol`, :class:`ProtocolResult`.
- :mod:`.tables` / :mod:`.report`: the tables and the summary markdown.
"""

from workbench.protocol.config import (BASELINE_METHODS, PROTOCOL_METHODS, WEAK_METHODS, MethodSpec, ProtocolConfig,
                                       load_protocol_config, method_spec)
from workbench.protocol.run import ProtocolResult, load_protocol, run_protocol

__all__ = ["BASELINE_METHODS", "PROTOCOL_METHODS", "WEAK_METHODS", "MethodSpec", "ProtocolConfig", "ProtocolResult",
           "load_protocol", "load_protocol_config", "method_spec", "run_protocol"]
