"""Authentication and authorization with LangGraph's programming model.

A `langgraph_sdk.Auth` (langgraph.json's `auth.path`, or one built by the server from its
settings) is loaded at start-up (`loading`) and run by `AuthPolicy` (`policy`): its
`@auth.authenticate` handler names each request's user (`users`, from the parameters in
`requests`), and its `@auth.on` handlers decide what that user may do. Services ask a
`Caller` (`caller`) for the storage `Scope` of each action; storage then applies the
handlers' metadata filters itself (storage/filters.py).
"""
