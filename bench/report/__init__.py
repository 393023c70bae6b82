"""Rendering above the results store: leaderboard markdown and terminal tables, the reproduction
report. Nothing here computes a number; it shows what bench.results aggregated."""
