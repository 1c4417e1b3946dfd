"""ЭЖ-box: a school's electronic class journal and diary on the local network."""

__version__ = "0.1.0"
