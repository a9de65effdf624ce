"""Helpers shared by the test tiers (data locations, bad-input catalogue, trained warehouses, a constructed
prediction log, table digests)."""
