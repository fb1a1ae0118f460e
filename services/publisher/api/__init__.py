"""HTTP layer: `deps.py` (dependencies) and `routes/` (one module per resource)."""
