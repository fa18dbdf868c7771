"""One command that serves the page, the Python functions and the local realtime service on one origin."""
