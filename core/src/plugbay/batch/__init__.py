"""Batch processing: the local batch runner and the providers' batch job APIs."""
