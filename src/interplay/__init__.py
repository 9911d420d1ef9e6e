"""Interplay: find why production broke from how services and agents interact."""
