"""Online payments through Stripe Connect: `gateway` is the only door to Stripe, and
`fake_stripe` the built-in fake it talks to in development and tests."""
