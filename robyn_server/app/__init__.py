"""The server process: create_app, start-up and shutdown, persistence wiring, the supervisor."""
