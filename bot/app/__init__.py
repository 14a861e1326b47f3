"""Composition and runtime: settings, wiring, the command line, background jobs."""
