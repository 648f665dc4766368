"""The Label Studio ML backend protocol over HTTP: the Flask app, its WSGI entry, gunicorn settings, metrics."""
