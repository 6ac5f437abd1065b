"""Scripted answers for the offline backend, one module per part of the protocol."""
