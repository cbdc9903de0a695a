"""Write-side and read-side operations on the models.

Services take explicit keyword arguments (a company, an actor), never read the request
or `current_user`, flush but do not commit (the caller owns the transaction), and raise
`DomainError` subclasses that routes turn into form errors or 4xx responses.
"""
