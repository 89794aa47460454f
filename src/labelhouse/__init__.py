"""Labelhouse: a self-hosted data-labeling platform for AI labs."""

__version__ = "0.1.0"
