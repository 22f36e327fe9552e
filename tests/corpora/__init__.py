"""Labelled corpora that measure the quality of a matcher or a masker (the tests print their figures)."""
