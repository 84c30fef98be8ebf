"""Analyses that turn the layers into decisions: accident-prone spots and segments first."""
