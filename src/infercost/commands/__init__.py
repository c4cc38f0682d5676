"""CLI command groups, one module each; `cli.py` registers them. Each module only parses, calls the
library and renders."""
