"""The media library: ingest, probing, loudness analysis, artwork and storage backends."""
