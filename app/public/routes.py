"""Pages anyone with the link may open: estimates, invoices, profile photos."""
