"""Prices → dollars per token, per request, per hour."""
