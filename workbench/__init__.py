"""HGI-SAM workbench: weakly supervised ICH segmentation from Swin attention.

Data flows one way and the sub-packages show it::

    data -> models -> capture -> operators -> evaluation -> studies / notebooks / reports

Dimension letters used in every docstring:

    B batch, C channels, H/W image height/width (pixels), Z slices, T stage grid side (tokens),
    nW windows per image, h heads, N tokens per window, K classes.
    Evaluation: P pixels per image (H*W, or Z*H*W for volumes), Q thresholds of a grid, S steps of
    a deletion / insertion curve, R bootstrap resamples, G groups (subjects or volumes), M slices
    of a table (all batches stacked).
"""

__version__ = "0.1.0"



def __getattr__(name: str):
    """Lazy public API: ``workbench.explain`` imports torch / timm only when first used."""
    if name == "explain":
        from workbench.api import explain

        return explain
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")

__all__ = ["__version__", "explain"]
