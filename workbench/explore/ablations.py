"""The HGI-SAM ablations of 04_heads_and_stages, one factor at a time around the default.

Default (HGI-SAM, Rasoulian et al., MELBA 2023, section 3): stages all but the last, head weights ||G||_F ("gradnorm"),
product of (plain, shifted) block pairs, for the chosen gradient (dscore/dS "logits" or dscore/dA
"probs"). Each variant changes one factor; Swin-SAM (plain head mean, all stages) is the reference.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = ["DEFAULT", "ablation_variants", "factor_of"]

DEFAULT = "HGI-SAM default"


def _stages_label(stages: tuple[int, ...]) -> str:
    return "stages " + ",".join(map(str, stages))


def ablation_variants(num_stages: int, gradient: str = "logits", top_k: int = 2
                      ) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """{name: ("hgi_sam" | "swin_sam", options)}: the default, stage subsets, head weightings,
    pair combinations and the Swin-SAM reference, for a model with ``num_stages`` stages."""
    if num_stages < 1:
        raise ValueError(f"num_stages must be >= 1, got {num_stages}")
    default_stages = tuple(range(1, max(num_stages, 2)))  # all but the last (stage 1 alone for 1 stage)
    base = {"gradient": gradient, "stages": default_stages[:num_stages]}
    variants: dict[str, tuple[str, Mapping[str, Any]]] = {DEFAULT: ("hgi_sam", base)}
    subsets = [(s,) for s in range(1, num_stages + 1)] + [tuple(range(1, n + 1)) for n in range(2, num_stages + 1)]
    for stages in subsets:
        if stages != base["stages"]:
            variants[_stages_label(stages)] = ("hgi_sam", {**base, "stages": stages})
    variants["heads none"] = ("hgi_sam", {**base, "heads": "none"})
    variants[f"heads top-{top_k}"] = ("hgi_sam", {**base, "heads": "topk", "top_k": top_k})
    variants["pairs mean"] = ("hgi_sam", {**base, "pairs": "mean"})
    variants["Swin-SAM (reference)"] = ("swin_sam", {})
    return variants


def factor_of(name: str) -> str:
    """The factor a variant name varies: default, stages, heads, pairs or reference."""
    if name == DEFAULT:
        return "default"
    for factor in ("stages", "heads", "pairs"):
        if name.startswith(factor):
            return factor
    return "reference"
