"""The sandbox: a small Kubernetes on one machine for development and end-to-end tests."""
