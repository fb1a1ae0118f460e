"""What both HTTP services share: problem responses, middleware, auth dependencies,
rate limiting and the operational endpoints."""
