"""The run engine: per-thread queues, execution, the event broker, stream modes, webhooks."""
