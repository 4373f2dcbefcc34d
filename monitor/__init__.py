"""News monitor: collect RO/EN news, group it into stories, match watches, alert once per story."""

__version__ = "0.1.0"
