"""Tests of the Flask-free media package (storage contract, sniffing, ffmpeg, images, PDFs)."""
