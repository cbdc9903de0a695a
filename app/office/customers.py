"""Office pages: customers."""
