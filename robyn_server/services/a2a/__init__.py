"""A2A (Agent2Agent): every assistant is an agent at `/a2a/{assistant_id}`.

An A2A context is a thread, a task is a run. Everything is built in the shapes of A2A
v0.3 (`messages`, `tasks`, `service`); `v1` converts them to and from v1.0's for
clients that say `A2A-Version: 1.0`.
"""
