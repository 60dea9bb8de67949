"""Requests, responses, route tables, CORS, SSE and OpenAPI: the only package importing Robyn."""
