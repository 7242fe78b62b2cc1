"""Backends: one module per inference engine, each importing its engine lazily."""
