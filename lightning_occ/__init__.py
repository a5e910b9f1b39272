"""lightning-occ."""
