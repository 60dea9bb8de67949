"""Request and response models: what routes validate, services take and /openapi.json describes."""
