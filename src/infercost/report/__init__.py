"""Rendering of results: terminal tables, files."""
