"""The worker: the outbox dispatcher, its periodic tasks and `flask outbox work`.

It may import services (it runs them); nothing in app/services or app/sms imports it back,
except `wake()`, which a request calls to get a new text sent at once.
"""
