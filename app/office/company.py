"""Office pages: company."""
