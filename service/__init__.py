"""Voter eligibility service."""
