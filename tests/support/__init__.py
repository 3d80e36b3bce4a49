"""Helpers shared by the test suite (on the test path as ``support``)."""
