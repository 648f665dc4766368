"""Helpers for the tests and the demo scripts: local Label Studio and gunicorn servers, project setup."""
