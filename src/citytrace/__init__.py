"""citytrace: screening, investigation, exposure search and disclosure for a health authority."""

__version__ = "0.1.0"
