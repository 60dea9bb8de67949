"""The run engine: executing runs, their events, and what happens when they finish."""
