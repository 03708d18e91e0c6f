"""Analyses behind the figures: persistence views of batches, embedding geometry."""
