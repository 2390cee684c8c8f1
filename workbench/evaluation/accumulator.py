"""MetricAccumulator: collect per-sample metric values batch by batch, reduce explicitly (MONAI style).

The metric functions stay pure; the accumulator only stores their (B,) outputs. ``aggregate``
names its reduction, skips NaN and :meth:`not_nans` says how many values each reduction used.
"""

from __future__ import annotations

import torch

from workbench.evaluation.aggregate import Summary, summarize
from workbench.utils.errors import check_choice

__all__ = ["REDUCTIONS", "MetricAccumulator"]

REDUCTIONS = ("mean", "sum", "none")


class MetricAccumulator:
    """Buffers of per-sample values, one per metric name.

    >>> acc = MetricAccumulator()
    >>> acc.append(dice=dice(pred, mask), subject=subject_ids)   # each (B,)
    >>> acc.aggregate("mean")["dice"]                              # NaN-skipping mean, 0-d tensor
    """

    def __init__(self) -> None:
        self._buffers: dict[str, list[torch.Tensor]] = {}
        self._length = 0

    def __len__(self) -> int:
        """Number of samples appended so far."""
        return self._length

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._buffers)

    def append(self, **values: torch.Tensor) -> None:
        """Add one batch: every name maps to a (B,) tensor with the same B; names fixed by the first call."""
        if self._buffers and set(values) != set(self._buffers):
            raise ValueError(f"metric names {sorted(values)} differ from the accumulated ones; "
                             f"valid choices: {', '.join(sorted(self._buffers))}")
        sizes = {k: tuple(torch.as_tensor(v).shape) for k, v in values.items()}
        b = {s[0] if len(s) == 1 else None for s in sizes.values()}
        if len(b) != 1 or None in b:
            raise ValueError(f"each metric must be a (B,) tensor with one common B; got shapes {sizes}")
        for k, v in values.items():
            self._buffers.setdefault(k, []).append(torch.as_tensor(v).detach())
        self._length += b.pop()

    def get_buffer(self, name: str) -> torch.Tensor:
        """All values of ``name`` appended so far, (M,)."""
        check_choice("metric", name, self._buffers)
        return torch.cat(self._buffers[name])

    def not_nans(self) -> dict[str, int]:
        """Number of defined (non-NaN) values per metric: what ``mean`` and ``sum`` use."""
        return {k: int((~torch.isnan(self.get_buffer(k).to(torch.float64))).sum()) for k in self._buffers}

    def aggregate(self, reduction: str = "mean") -> dict[str, torch.Tensor]:
        """``"mean"`` / ``"sum"``: NaN-skipping 0-d float64 per metric (mean of no value is NaN);
        ``"none"``: the (M,) buffers."""
        check_choice("reduction", reduction, REDUCTIONS)
        out = {}
        for k in self._buffers:
            v = self.get_buffer(k)
            if reduction == "none":
                out[k] = v
            elif reduction == "sum":
                out[k] = torch.nansum(v.to(torch.float64))
            else:
                out[k] = torch.nanmean(v.to(torch.float64))
        return out

    def summary(self, ddof: int = 1) -> dict[str, Summary]:
        """mean +- std (SEM) per metric, NaN skipped (see :func:`summarize`)."""
        return {k: summarize(self.get_buffer(k), ddof) for k in self._buffers}

    def reset(self) -> None:
        self._buffers = {}
        self._length = 0
