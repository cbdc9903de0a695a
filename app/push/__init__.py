"""Web Push: the one door to the browsers' push services (`gateway`, through the official
`pywebpush`), the built-in fake push service (`fake_service`) and its /dev/push page."""
