"""commkg: knowledge graphs of research on health-care commissioning."""

__version__ = "0.1.0"
