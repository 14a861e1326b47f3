"""View models: what the use cases return and blocks/ and briefs/ render."""
