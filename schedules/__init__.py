"""Programmes, schedule rules, playlists and clocks, and the timeline resolved from them."""
