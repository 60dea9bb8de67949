"""Loopback servers the tests talk to instead of the network: an OpenAI-compatible chat
model and an MCP tool server."""
