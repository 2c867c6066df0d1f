"""One module per paper study: a config dataclass and run(config) -> results."""
