"""The Django project: settings, URLs, WSGI, and the UI pieces every app shares."""
