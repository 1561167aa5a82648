"""Aggregate figures for analysts: counts, never a record of a person."""
