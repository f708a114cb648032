"""A small async controller runtime: informers over list+watch, rate-limited work queues,
controllers, Lease leader election, an event recorder and a manager that owns them all."""
