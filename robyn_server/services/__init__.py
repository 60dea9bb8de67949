"""Services: what the API does, independent of HTTP. Routes parse, call one, serialize."""
