"""HGI-SAM workbench: weakly supervised ICH segmentation from Swin attention.

Data flows one way and the sub-packages show it::

    data -> models -> capture -> operators -> evaluation -> studies / notebooks / reports

Dimension letters used in every docstring:

    B batch, C channels, H/W image height/width (pixels), Z slices, T stage grid side (tokens),
    nW windows per image, h heads, N tokens per window, K classes.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
