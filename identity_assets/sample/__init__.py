"""Realistic, deliberately messy sample exports with their ground truth (see `generator`)."""

from identity_assets.sample.generator import SampleConfig, SampleSummary, write_sample

__all__ = ["SampleConfig", "SampleSummary", "write_sample"]
