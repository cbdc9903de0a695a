"""Office pages: the custom SMS number (choose an area code, provision once)."""
