"""Helpers below the core: atomic writes, random states, PGD attacks, diagnostics, tracking checks, a quiet Trainer."""
