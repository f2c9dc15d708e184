"""Tests of resumable (tus) uploads: the protocol, real clients against real servers, and interruptions."""
