"""Producers: change detection on a source system, publishing canonical events."""
