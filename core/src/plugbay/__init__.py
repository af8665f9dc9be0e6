"""plugbay: one typed, fast interface to every LLM provider."""
__version__ = "0.1.0"
